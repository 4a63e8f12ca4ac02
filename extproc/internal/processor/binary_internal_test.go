package processor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/cache"
)

func TestBinaryHeadLength(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int{
		"148": 148, "0": 0, " 12 ": 12,
		"": -1, "-1": -1, "12abc": -1, "1.5": -1, "99999999999999999999": -1,
	} {
		require.Equal(t, want, binaryHeadLength(v), "%q", v)
	}
}

// What decides binary outputs (parameters.binary_data_output and the
// outputs' binary_data) is part of the canonical form, so a request asking
// for binary outputs never shares a key with one asking for JSON outputs of
// the same inputs: their answers differ.
func TestCanonicalFields_binaryOutputsAreKeyed(t *testing.T) {
	t.Parallel()
	const inputs = `"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]`
	canonical := func(body string) string {
		t.Helper()
		d := json.NewDecoder(strings.NewReader(body))
		d.UseNumber()
		var doc map[string]any
		require.NoError(t, d.Decode(&doc))
		c, err := cache.CanonicalFields(doc, inferRoute.cacheFields)
		require.NoError(t, err)
		return string(c)
	}
	jsonOut := canonical(`{"id":"a",` + inputs + `}`)
	seen := map[string]string{jsonOut: "JSON outputs"}
	for name, body := range map[string]string{
		"binary_data_output":          `{"id":"a",` + inputs + `,"parameters":{"binary_data_output":true}}`,
		"an output's binary_data":     `{"id":"a",` + inputs + `,"outputs":[{"name":"label","parameters":{"binary_data":true}}]}`,
		"the output named as JSON":    `{"id":"a",` + inputs + `,"outputs":[{"name":"label","parameters":{"binary_data":false}}]}`,
		"binary_data_output and JSON": `{"id":"a",` + inputs + `,"parameters":{"binary_data_output":true},"outputs":[{"name":"label","parameters":{"binary_data":false}}]}`,
	} {
		c := canonical(body)
		require.NotContains(t, seen, c, "%s keys like %s", name, seen[c])
		seen[c] = name
	}
	require.Equal(t, jsonOut, canonical(`{"id":"other",`+inputs+`,"parameters":{}}`),
		"the id and an empty parameters object do not change the key")
}
