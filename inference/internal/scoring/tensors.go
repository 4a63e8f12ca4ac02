package scoring

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// maxNesting bounds how deeply tensor data arrays may nest.
const maxNesting = 8

// TensorInput is an Open Inference Protocol request as scoring sees it.
type TensorInput struct {
	Inputs  []oip.InputTensor
	Outputs []oip.RequestedOutput
	// Binary is the tensor bytes after the JSON head in the binary data
	// extension; tensors with parameters.binary_data_size take their values
	// from it in order.
	Binary []byte
}

// Tensors scores OIP input tensors. They come in two layouts: one 2-D
// FP32/FP64 tensor of shape [rows, features] with the features in manifest
// order, or one tensor per feature named after it with shape [rows] or
// [rows, 1]. Data may be flat (row-major) or nested. Every problem with the
// inputs or the requested outputs is reported in one *ValidationError.
func (s *Scorer) Tensors(v *registry.Version, in TensorInput) (*Batch, error) {
	if err := Tabular(v); err != nil {
		return nil, err
	}
	x, n, vs := s.tensorsToMatrix(v, in.Inputs, in.Binary)
	wanted, ovs := requestedOutputs(v, in.Outputs)
	vs = append(vs, ovs...)
	if err := vs.err(); err != nil {
		return nil, err
	}
	bp := s.buffer(n * v.Engine.NumOutputs())
	b := s.evaluate(v, x, n, *bp, bp)
	b.wanted = wanted
	return b, nil
}

// decoded is one input tensor's values and row count.
type decoded struct {
	vals []float64
	rows int
}

// tensorsToMatrix lays the request tensors out as the engine's row-major
// input, reporting every problem with a pointer into the request.
func (s *Scorer) tensorsToMatrix(v *registry.Version, inputs []oip.InputTensor, bin []byte) ([]float64, int, violations) {
	if len(inputs) == 0 {
		return nil, 0, violations{{Pointer: "/inputs", Detail: "empty: at least one tensor is required"}}
	}
	var vs violations
	dec := make([]decoded, len(inputs))
	for i, t := range inputs {
		p := "/inputs/" + strconv.Itoa(i)
		d, field, msg := decodeTensor(t, &bin)
		if msg != "" {
			vs.add(p+"/"+field, msg)
			continue
		}
		dec[i] = d
	}
	if len(vs) > 0 {
		return nil, 0, vs
	}
	nf := len(v.Manifest.Inputs)
	var x []float64
	var n int
	switch {
	case len(inputs) == 1 && v.Index[inputs[0].Name] == 0 && len(inputs[0].Shape) == 2 && inputs[0].Shape[1] == int64(nf) && nf > 1:
		// One [rows, features] matrix.
		n, x = dec[0].rows, dec[0].vals
	case len(inputs) == 1 && len(inputs[0].Shape) == 2 && nf > 1:
		return nil, 0, violations{{Pointer: "/inputs/0/shape", Detail: fmt.Sprintf("a matrix input needs shape [rows, %d] (features %v)", nf, featureNames(v))}}
	default:
		if x, n, vs = perFeature(v, inputs, dec); x == nil {
			return nil, 0, vs
		}
	}
	if n == 0 {
		vs.add("/inputs/0/shape", "empty: at least one row is required")
	}
	if n > s.cfg.MaxBatchRows {
		vs.add("/inputs/0/shape", fmt.Sprintf("%d rows exceed the limit of %d", n, s.cfg.MaxBatchRows))
	}
	return x, n, vs
}

// decodeTensor reads one tensor's values, from its data or, when it
// announces binary_data_size, from the front of *bin (which it advances).
// A problem comes back as the member it concerns and a message.
func decodeTensor(t oip.InputTensor, bin *[]byte) (d decoded, field, msg string) {
	if t.Datatype != oip.FP32 && t.Datatype != oip.FP64 {
		return d, "datatype", fmt.Sprintf("datatype %q is not supported; use FP32 or FP64", t.Datatype)
	}
	var vals []float64
	size, binary, err := oip.BinaryDataSize(t.Parameters)
	switch {
	case err != nil:
		msg = err.Error()
	case binary && size > int64(len(*bin)):
		msg = fmt.Sprintf("%s %d exceeds the %d binary bytes left", oip.ParamBinaryDataSize, size, len(*bin))
	case binary:
		vals, msg = decodeBinary((*bin)[:size], t.Datatype)
		*bin = (*bin)[size:]
	default:
		vals, msg = flatten(t.Data)
	}
	if msg != "" {
		return d, "data", msg
	}
	elems := int64(1)
	for _, dim := range t.Shape {
		if dim < 0 || (dim > 0 && elems > math.MaxInt32/dim) {
			elems = -1
			break
		}
		elems *= dim
	}
	if len(t.Shape) == 0 || elems < 0 || elems != int64(len(vals)) {
		return d, "shape", fmt.Sprintf("shape %v does not match %d data values", t.Shape, len(vals))
	}
	return decoded{vals: vals, rows: int(t.Shape[0])}, "", ""
}

// perFeature assembles one tensor per feature into the row-major matrix. A
// nil matrix means the tensors could not be matched to the features at all;
// otherwise the violations are tensors whose row counts disagree.
func perFeature(v *registry.Version, inputs []oip.InputTensor, dec []decoded) ([]float64, int, violations) {
	var vs violations
	byName := map[string]int{}
	for i, t := range inputs {
		p := "/inputs/" + strconv.Itoa(i)
		if _, ok := v.Index[t.Name]; !ok {
			vs.add(p+"/name", fmt.Sprintf("unknown feature %q", t.Name))
			continue
		}
		if len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) {
			vs.add(p+"/shape", "a feature tensor needs shape [rows] or [rows, 1]")
			continue
		}
		byName[t.Name] = i
	}
	for _, f := range v.Manifest.Inputs {
		if _, ok := byName[f.Name]; !ok && len(vs) == 0 {
			vs.add("/inputs", fmt.Sprintf("missing feature tensor %q", f.Name))
		}
	}
	if len(vs) > 0 {
		return nil, 0, vs
	}
	nf := len(v.Manifest.Inputs)
	n := dec[byName[v.Manifest.Inputs[0].Name]].rows
	x := make([]float64, n*nf)
	for j, f := range v.Manifest.Inputs {
		i := byName[f.Name]
		if dec[i].rows != n {
			vs.add("/inputs/"+strconv.Itoa(i)+"/shape", fmt.Sprintf("%d rows, other features have %d", dec[i].rows, n))
			continue
		}
		for r := range n {
			x[r*nf+j] = dec[i].vals[r]
		}
	}
	return x, n, vs
}

func featureNames(v *registry.Version) []string {
	out := make([]string, len(v.Manifest.Inputs))
	for i, f := range v.Manifest.Inputs {
		out[i] = f.Name
	}
	return out
}

// flatten reads flat or nested JSON number arrays in row-major order.
func flatten(raw json.RawMessage) ([]float64, string) {
	if rawjson.Kind(raw) == "nothing" {
		return nil, "missing"
	}
	var flat []json.RawMessage
	if rawjson.Kind(raw) != "array" || json.Unmarshal(raw, &flat) != nil {
		return nil, "wrong type: expected array, got " + rawjson.Kind(raw)
	}
	out := make([]float64, 0, len(flat))
	var walk func(elems []json.RawMessage, depth int) string
	walk = func(elems []json.RawMessage, depth int) string {
		if depth > maxNesting {
			return "nested too deeply"
		}
		for _, e := range elems {
			if rawjson.Kind(e) == "array" {
				var inner []json.RawMessage
				if err := json.Unmarshal(e, &inner); err != nil {
					return "malformed nested array"
				}
				if msg := walk(inner, depth+1); msg != "" {
					return msg
				}
				continue
			}
			f, msg := parseNumber(e)
			if msg != "" {
				return fmt.Sprintf("value %d: %s", len(out), msg)
			}
			out = append(out, f)
		}
		return ""
	}
	if msg := walk(flat, 0); msg != "" {
		return nil, msg
	}
	return out, ""
}

// decodeBinary reads little-endian FP32/FP64 values.
func decodeBinary(b []byte, datatype string) ([]float64, string) {
	size := 8
	if datatype == oip.FP32 {
		size = 4
	}
	if len(b)%size != 0 {
		return nil, fmt.Sprintf("%d bytes is not a whole number of %s values", len(b), datatype)
	}
	out := make([]float64, len(b)/size)
	for i := range out {
		var f float64
		if size == 4 {
			f = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:])))
		} else {
			f = math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:]))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Sprintf("value %d: not a finite number", i)
		}
		out[i] = f
	}
	return out, ""
}
