package processor

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendBinaryTail(t *testing.T) {
	t.Parallel()
	canonical := []byte(`{"inputs":[{"datatype":"FP32","name":"x","parameters":{"binary_data_size":4},"shape":[1]}]}`)
	a := appendBinaryTail(append([]byte(nil), canonical...), []byte{0, 0, 0x80, 0x3f})
	b := appendBinaryTail(append([]byte(nil), canonical...), []byte{0, 0, 0, 0x40})
	require.NotEqual(t, a, b, "other tensor bytes, other key")
	require.Equal(t, a, appendBinaryTail(append([]byte(nil), canonical...), []byte{0, 0, 0x80, 0x3f}))
	require.Equal(t, canonical, appendBinaryTail(canonical, nil), "no tail: the plain canonical form")
	require.Contains(t, string(a), "\x00", "separated by a byte canonical JSON never holds")
}

func TestAsksBinaryOutput(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		`{"inputs":[]}`: false,
		`{"parameters":{"binary_data_output":true}}`:                                true,
		`{"parameters":{"binary_data_output":false}}`:                               false,
		`{"parameters":{"binary_data_output":"true"}}`:                              false, // inference reads only a boolean
		`{"outputs":[{"name":"label"}]}`:                                            false,
		`{"outputs":[{"name":"a"},{"name":"b","parameters":{"binary_data":true}}]}`: true,
		`{"outputs":[{"name":"b","parameters":{"binary_data":false}}]}`:             false,
	} {
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &doc))
		require.Equal(t, want, asksBinaryOutput(doc), body)
	}
}
