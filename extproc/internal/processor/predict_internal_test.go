package processor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCacheDirectives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                       string
		wantNoCache, wantNoStore bool
	}{
		{"", false, false},
		{"no-cache", true, false},
		{"No-Store", false, true},
		{"max-age=0", true, false},
		{"no-cache, no-store", true, true},
		{"max-age=60", false, false},
	}
	for _, tt := range tests {
		nc, ns := cacheDirectives(tt.in)
		require.Equal(t, tt.wantNoCache, nc, tt.in)
		require.Equal(t, tt.wantNoStore, ns, tt.in)
	}
}

func TestCanonicalFields(t *testing.T) {
	t.Parallel()
	doc := func(s string) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &m))
		return m
	}
	a, err := canonicalFields(doc(`{"model":"iris","inputs":[{"b":1,"a":2.0}],"options":{}}`), []string{"inputs", "options"})
	require.NoError(t, err)
	b, err := canonicalFields(doc(`{"inputs":[{"a":2,"b":1e0}],"model":"other"}`), []string{"inputs", "options"})
	require.NoError(t, err)
	require.Equal(t, `{"inputs":[{"a":2,"b":1}]}`, string(a))
	require.Equal(t, a, b, "empty options, key order and number spelling do not matter; model is keyed separately")
}

func TestTensorRows(t *testing.T) {
	t.Parallel()
	// Numbers arrive as json.Number, as the validator decodes them.
	d := json.NewDecoder(strings.NewReader(`{"inputs":[{"shape":[3,4]},{"shape":[7]},{"shape":[]}]}`))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	require.Equal(t, 7, tensorRows(m), "the largest batch dimension")
}
