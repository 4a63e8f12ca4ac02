package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// OIP output tensor names.
const (
	outLabel         = "label"
	outProbabilities = "probabilities"
	outValue         = "value"
	inMatrix         = "input"
)

// infer serves POST /v2/models/{name}[/versions/{version}]/infer.
//
// Inputs are accepted in two layouts: one 2-D FP32/FP64 tensor of shape
// [rows, features] with the features in manifest order, or one tensor per
// feature named after it with shape [rows] or [rows, 1]. Data may be flat
// (row-major) or nested.
func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	body, bin, err := readInferBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		writeProblem(w, r, err, true)
		return
	}
	// encoding/json turns an explicit null into a zero value; the protocol
	// has no null members, so refuse them rather than guess.
	var members map[string]json.RawMessage
	err = json.Unmarshal(body, &members)
	if p := syntaxProblem(err); p != nil {
		writeProblem(w, r, p, true)
		return
	}
	if err == nil {
		var nulls []problem.Violation
		for _, name := range []string{"id", "parameters", "inputs", "outputs"} {
			if raw, ok := members[name]; ok && jsonKind(raw) == "null" {
				nulls = append(nulls, problem.Violation{Pointer: "/" + name, Detail: "wrong type: got null"})
			}
		}
		if len(nulls) > 0 {
			writeProblem(w, r, validationProblem(nulls), true)
			return
		}
	}
	var req oip.InferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeProblem(w, r, validationProblem([]problem.Violation{{Pointer: "", Detail: "the body does not match the inference request shape: " + err.Error()}}), true)
		return
	}
	model := r.PathValue("name")
	info := infoFrom(r.Context())
	info.model = model
	v, err := s.reg.Load().Resolve(model, versionChoice(r, r.PathValue("version")))
	if err != nil {
		writeProblem(w, r, err, true)
		return
	}
	info.version = v.ID()
	w.Header().Set(header.ModelVersion, v.ID())

	x, n, vs := s.tensorsToMatrix(v, req.Inputs, bin)
	wanted, ovs := requestedOutputs(v, req.Outputs)
	vs = append(vs, ovs...)
	if len(vs) > 0 {
		writeProblem(w, r, validationProblem(vs), true)
		return
	}
	k := v.Engine.NumOutputs()
	out := make([]float64, n*k)
	v.Engine.Predict(x, n, out)
	info.rows = n

	resp := oip.InferResponse{ModelName: model, ModelVersion: v.ID(), ID: req.ID}
	if resp.ID == "" {
		resp.ID = info.id
	}
	if v.Classification() {
		if wanted[outLabel] {
			labels := make([]string, n)
			for i := range n {
				labels[i] = v.Manifest.Output.Classes[argmax(out[i*k:(i+1)*k])]
			}
			resp.Outputs = append(resp.Outputs, oip.OutputTensor{Name: outLabel, Datatype: oip.BYTES, Shape: []int64{int64(n)}, Data: labels})
		}
		if wanted[outProbabilities] {
			resp.Outputs = append(resp.Outputs, oip.OutputTensor{
				Name: outProbabilities, Datatype: oip.FP64, Shape: []int64{int64(n), int64(k)}, Data: out,
				Parameters: map[string]any{"classes": v.Manifest.Output.Classes},
			})
		}
	} else if wanted[outValue] {
		resp.Outputs = append(resp.Outputs, oip.OutputTensor{Name: outValue, Datatype: oip.FP64, Shape: []int64{int64(n)}, Data: out})
	}
	writeInferResponse(w, &req, &resp)
}

func requestedOutputs(v *registry.Version, req []oip.RequestedOutput) (map[string]bool, []problem.Violation) {
	avail := outputNames(v)
	wanted := map[string]bool{}
	if len(req) == 0 {
		for _, n := range avail {
			wanted[n] = true
		}
		return wanted, nil
	}
	var vs []problem.Violation
	for i, o := range req {
		if !slices.Contains(avail, o.Name) {
			vs = append(vs, problem.Violation{Pointer: fmt.Sprintf("/outputs/%d/name", i), Detail: fmt.Sprintf("unknown output %q (available: %v)", o.Name, avail)})
			continue
		}
		wanted[o.Name] = true
	}
	return wanted, vs
}

func outputNames(v *registry.Version) []string {
	if v.Classification() {
		return []string{outLabel, outProbabilities}
	}
	return []string{outValue}
}

// tensorsToMatrix lays the request tensors out as the engine's row-major
// input, reporting every problem with a pointer into the request.
func (s *Server) tensorsToMatrix(v *registry.Version, inputs []oip.InputTensor, bin []byte) ([]float64, int, []problem.Violation) {
	nf := len(v.Manifest.Inputs)
	if len(inputs) == 0 {
		return nil, 0, []problem.Violation{{Pointer: "/inputs", Detail: "empty: at least one tensor is required"}}
	}
	var vs []problem.Violation
	type decoded struct {
		vals []float64
		rows int
	}
	dec := make([]decoded, len(inputs))
	for i, t := range inputs {
		p := "/inputs/" + strconv.Itoa(i)
		if t.Datatype != oip.FP32 && t.Datatype != oip.FP64 {
			vs = append(vs, problem.Violation{Pointer: p + "/datatype", Detail: fmt.Sprintf("datatype %q is not supported; use FP32 or FP64", t.Datatype)})
			continue
		}
		var vals []float64
		var err string
		size, binary, serr := oip.BinaryDataSize(t.Parameters)
		switch {
		case serr != nil:
			err = serr.Error()
		case binary && size > int64(len(bin)):
			err = fmt.Sprintf("%s %d exceeds the %d binary bytes left", oip.ParamBinaryDataSize, size, len(bin))
		case binary:
			vals, err = decodeBinary(bin[:size], t.Datatype)
			bin = bin[size:]
		default:
			vals, err = flatten(t.Data)
		}
		if err != "" {
			vs = append(vs, problem.Violation{Pointer: p + "/data", Detail: err})
			continue
		}
		elems := int64(1)
		for _, d := range t.Shape {
			if d < 0 || (d > 0 && elems > math.MaxInt32/d) {
				elems = -1
				break
			}
			elems *= d
		}
		if len(t.Shape) == 0 || elems < 0 || elems != int64(len(vals)) {
			vs = append(vs, problem.Violation{Pointer: p + "/shape", Detail: fmt.Sprintf("shape %v does not match %d data values", t.Shape, len(vals))})
			continue
		}
		dec[i] = decoded{vals: vals, rows: int(t.Shape[0])}
	}
	if len(vs) > 0 {
		return nil, 0, vs
	}
	var x []float64
	var n int
	if len(inputs) == 1 && v.Index[inputs[0].Name] == 0 && len(inputs[0].Shape) == 2 && inputs[0].Shape[1] == int64(nf) && nf > 1 {
		// One [rows, features] matrix.
		n = dec[0].rows
		x = dec[0].vals
	} else if len(inputs) == 1 && len(inputs[0].Shape) == 2 && nf > 1 {
		return nil, 0, []problem.Violation{{Pointer: "/inputs/0/shape", Detail: fmt.Sprintf("a matrix input needs shape [rows, %d] (features %v)", nf, featureNames(v))}}
	} else {
		// One tensor per feature.
		byName := map[string]int{}
		for i, t := range inputs {
			if _, ok := v.Index[t.Name]; !ok {
				vs = append(vs, problem.Violation{Pointer: "/inputs/" + strconv.Itoa(i) + "/name", Detail: fmt.Sprintf("unknown feature %q", t.Name)})
				continue
			}
			if len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) {
				vs = append(vs, problem.Violation{Pointer: "/inputs/" + strconv.Itoa(i) + "/shape", Detail: "a feature tensor needs shape [rows] or [rows, 1]"})
				continue
			}
			byName[t.Name] = i
		}
		for _, f := range v.Manifest.Inputs {
			if _, ok := byName[f.Name]; !ok && len(vs) == 0 {
				vs = append(vs, problem.Violation{Pointer: "/inputs", Detail: fmt.Sprintf("missing feature tensor %q", f.Name)})
			}
		}
		if len(vs) > 0 {
			return nil, 0, vs
		}
		n = dec[byName[v.Manifest.Inputs[0].Name]].rows
		x = make([]float64, n*nf)
		for j, f := range v.Manifest.Inputs {
			i := byName[f.Name]
			if dec[i].rows != n {
				vs = append(vs, problem.Violation{Pointer: "/inputs/" + strconv.Itoa(i) + "/shape", Detail: fmt.Sprintf("%d rows, other features have %d", dec[i].rows, n)})
				continue
			}
			for r := range n {
				x[r*nf+j] = dec[i].vals[r]
			}
		}
	}
	if n == 0 {
		vs = append(vs, problem.Violation{Pointer: "/inputs/0/shape", Detail: "empty: at least one row is required"})
	}
	if n > s.cfg.MaxBatchRows {
		vs = append(vs, problem.Violation{Pointer: "/inputs/0/shape", Detail: fmt.Sprintf("%d rows exceed the limit of %d", n, s.cfg.MaxBatchRows)})
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
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, "missing"
	}
	var flat []json.RawMessage
	if jsonKind(raw) != "array" || json.Unmarshal(raw, &flat) != nil {
		return nil, "wrong type: expected array, got " + jsonKind(raw)
	}
	out := make([]float64, 0, len(flat))
	var walk func(elems []json.RawMessage, depth int) string
	walk = func(elems []json.RawMessage, depth int) string {
		if depth > 8 {
			return "nested too deeply"
		}
		for _, e := range elems {
			if jsonKind(e) == "array" {
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
