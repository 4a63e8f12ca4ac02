package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/policy"
)

func TestMemo_remembersExactPassesOnly(t *testing.T) {
	t.Parallel()
	m, err := policy.NewMemo(1000, 1024)
	require.NoError(t, err)
	defer m.Close()
	body := []byte(`{"model":"iris","inputs":[{"a":1}]}`)

	known, key := m.Passed(policy.V2PredictRequest, body)
	require.False(t, known)
	m.Remember(key)
	require.Eventually(t, func() bool { k, _ := m.Passed(policy.V2PredictRequest, body); return k }, 2*time.Second, 5*time.Millisecond,
		"a remembered pass is known (the store applies sets asynchronously)")

	other := []byte(`{"model":"iris","inputs":[{"a":1}],"x":1}`)
	known, _ = m.Passed(policy.V2PredictRequest, other)
	require.False(t, known, "one byte more is another body")
	known, _ = m.Passed(policy.V1PredictRequest, body)
	require.False(t, known, "a pass is per schema")

	big := []byte(`{"inputs":"` + strings.Repeat("x", 2000) + `"}`)
	known, key = m.Passed(policy.V2PredictRequest, big)
	require.False(t, known)
	require.Empty(t, key, "bodies over the size bound are never remembered")

	var none *policy.Memo
	known, key = none.Passed(policy.V2PredictRequest, body)
	require.False(t, known)
	none.Remember(key) // a nil memo is off, not a crash
}
