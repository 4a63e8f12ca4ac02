package llm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// tensor is one float32 tensor read from a safetensors file.
type tensor struct {
	shape []int
	data  []float32
}

// tensorFile is a parsed safetensors file: its tensors by name and the
// string metadata of its header.
type tensorFile struct {
	tensors  map[string]tensor
	metadata map[string]string
}

// maxHeader bounds the JSON header; real headers are a few kilobytes.
const maxHeader = 1 << 20

// parseSafetensors decodes the safetensors format: an 8-byte little-endian
// header length, a JSON header naming every tensor's dtype, shape and byte
// range in the data section that follows, then the data. Only F32 tensors
// are accepted (that is what training/llm exports); ranges must lie inside
// the data, match their shape exactly and not overlap.
func parseSafetensors(b []byte) (*tensorFile, error) {
	if len(b) < 8 {
		return nil, errors.New("safetensors: file shorter than its 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeader || n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the file or %d bytes", n, maxHeader)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	data := b[8+n:]
	f := &tensorFile{tensors: map[string]tensor{}, metadata: map[string]string{}}
	type span struct {
		name       string
		start, end uint64
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__: %w", err)
			}
			continue
		}
		var h struct {
			Dtype   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &h); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if h.Dtype != "F32" {
			return nil, fmt.Errorf("safetensors: tensor %q: dtype %q, only F32 is supported", name, h.Dtype)
		}
		if len(h.Offsets) != 2 || h.Offsets[0] > h.Offsets[1] || h.Offsets[1] > uint64(len(data)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets %v outside %d data bytes", name, h.Offsets, len(data))
		}
		count := uint64(1)
		for _, d := range h.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt32/uint64(d)) {
				return nil, fmt.Errorf("safetensors: tensor %q: bad shape %v", name, h.Shape)
			}
			count *= uint64(d)
		}
		if h.Offsets[1]-h.Offsets[0] != 4*count {
			return nil, fmt.Errorf("safetensors: tensor %q: %d bytes for shape %v", name, h.Offsets[1]-h.Offsets[0], h.Shape)
		}
		buf := data[h.Offsets[0]:h.Offsets[1]]
		vals := make([]float32, count)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		f.tensors[name] = tensor{shape: h.Shape, data: vals}
		spans = append(spans, span{name, h.Offsets[0], h.Offsets[1]})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return nil, fmt.Errorf("safetensors: tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
}

// take returns the named tensor after checking its shape.
func (f *tensorFile) take(name string, shape ...int) ([]float32, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q: missing", name)
	}
	if len(t.shape) != len(shape) {
		return nil, fmt.Errorf("tensor %q: shape %v, want %v", name, t.shape, shape)
	}
	for i := range shape {
		if t.shape[i] != shape[i] {
			return nil, fmt.Errorf("tensor %q: shape %v, want %v", name, t.shape, shape)
		}
	}
	return t.data, nil
}
