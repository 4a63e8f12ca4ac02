package processor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTensorRows(t *testing.T) {
	t.Parallel()
	// Numbers arrive as json.Number, as the validator decodes them.
	d := json.NewDecoder(strings.NewReader(`{"inputs":[{"shape":[3,4]},{"shape":[7]},{"shape":[]}]}`))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	require.Equal(t, 7, tensorRows(m), "the largest batch dimension")
}
