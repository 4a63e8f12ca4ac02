package llm

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// encodeSafetensors writes tensors (name -> shape and values) in the
// safetensors format with the given metadata.
func encodeSafetensors(t testing.TB, tensors map[string]tensor, metadata map[string]string) []byte {
	t.Helper()
	header := map[string]any{"__metadata__": metadata}
	var data []byte
	for name, tt := range tensors {
		start := len(data)
		for _, v := range tt.data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[name] = map[string]any{"dtype": "F32", "shape": tt.shape, "data_offsets": []int{start, len(data)}}
	}
	h, err := json.Marshal(header)
	require.NoError(t, err)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

func TestParseSafetensors(t *testing.T) {
	t.Parallel()
	good := encodeSafetensors(t, map[string]tensor{
		"a": {shape: []int{2, 2}, data: []float32{1, 2, 3, 4}},
		"b": {shape: []int{1}, data: []float32{-0.5}},
	}, map[string]string{"k": "v"})
	f, err := parseSafetensors(good)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4}, f.tensors["a"].data)
	require.Equal(t, "v", f.metadata["k"])
	_, err = f.take("a", 4)
	require.Error(t, err, "shape is checked")

	header := func(h string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), make([]byte, 16)...)
	}
	bad := []struct {
		name string
		b    []byte
	}{
		{"rejects a short file", []byte{1, 2}},
		{"rejects a header longer than the file", binary.LittleEndian.AppendUint64(nil, 1000)},
		{"rejects a header that is not JSON", header("{")},
		{"rejects another dtype", header(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`)},
		{"rejects offsets past the data", header(`{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}`)},
		{"rejects a size that is not the shape's", header(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`)},
		{"rejects a negative dimension", header(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`)},
		{"rejects overlapping tensors", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseSafetensors(tt.b)
			require.Error(t, err)
		})
	}
}

// FuzzParseSafetensors feeds arbitrary files to the parser and the model
// builder: they return errors, never panic, and never allocate beyond what
// the file's own size justifies.
func FuzzParseSafetensors(f *testing.F) {
	f.Add(encodeSafetensors(f, map[string]tensor{"embed": {shape: []int{1, 2}, data: []float32{1, 2}}},
		map[string]string{"vocab_size": "257", "n_layer": "1"}))
	if b, err := os.ReadFile(filepath.Join(scribeDir, "model.safetensors")); err == nil {
		n := binary.LittleEndian.Uint64(b[:8])
		f.Add(b[:8+n]) // the real header with its data cut off
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tf, err := parseSafetensors(b)
		if err != nil {
			return
		}
		_, _ = newModel(tf)
	})
}
