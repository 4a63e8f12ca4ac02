package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// decodeInferRequest reads an infer request's JSON (the head, in the binary
// extension). Member names match exactly, as in the protocol and in the
// gateway: encoding/json alone would bind "INPUTS" to the inputs field.
// Unknown members are ignored, as the protocol leaves room for extensions.
func decodeInferRequest(body []byte) (*oip.InferRequest, error) {
	var top map[string]json.RawMessage
	err := json.Unmarshal(body, &top)
	if p := syntaxProblem(err); p != nil {
		return nil, p
	}
	if err != nil || top == nil {
		return nil, validationProblem([]problem.Violation{{Pointer: "", Detail: "the body must be a JSON object"}})
	}
	if err := checkMembers(body); err != nil {
		return nil, err
	}
	// encoding/json turns an explicit null into a zero value; the protocol
	// has no null members, so refuse them rather than guess.
	var nulls []problem.Violation
	for _, name := range []string{"id", "parameters", "inputs", "outputs"} {
		if raw, ok := top[name]; ok && rawjson.Kind(raw) == "null" {
			nulls = append(nulls, problem.Violation{Pointer: "/" + name, Detail: "wrong type: got null"})
		}
	}
	if len(nulls) > 0 {
		return nil, validationProblem(nulls)
	}
	var (
		req             oip.InferRequest
		inputs, outputs []json.RawMessage
	)
	vs := decodeMembers(top, "",
		member{name: "id", dst: &req.ID, want: "string"},
		member{name: "parameters", dst: &req.Parameters, want: "object"},
		member{name: "inputs", dst: &inputs, want: "array"},
		member{name: "outputs", dst: &outputs, want: "array"})
	req.Inputs = make([]oip.InputTensor, len(inputs))
	for i, raw := range inputs {
		t := &req.Inputs[i]
		vs = append(vs, decodeElement(raw, "/inputs/"+strconv.Itoa(i),
			member{name: "name", dst: &t.Name, want: "string"},
			member{name: "shape", dst: (*tensorShape)(&t.Shape), want: "array of integers"},
			member{name: "datatype", dst: &t.Datatype, want: "string"},
			member{name: "parameters", dst: &t.Parameters, want: "object"},
			member{name: "data", dst: &t.Data, want: "array"})...)
	}
	if len(outputs) > 0 {
		req.Outputs = make([]oip.RequestedOutput, len(outputs))
	}
	for i, raw := range outputs {
		o := &req.Outputs[i]
		vs = append(vs, decodeElement(raw, "/outputs/"+strconv.Itoa(i),
			member{name: "name", dst: &o.Name, want: "string"},
			member{name: "parameters", dst: &o.Parameters, want: "object"})...)
	}
	if len(vs) > 0 {
		return nil, validationProblem(vs)
	}
	return &req, nil
}

// tensorShape decodes tensor dimensions as JSON Schema reads "integer": any
// number without a fractional part, so 4.0 is 4 (the document's schema
// accepts it, and the gateway with it).
type tensorShape []int64

// UnmarshalJSON implements [json.Unmarshaler].
func (s *tensorShape) UnmarshalJSON(b []byte) error {
	// A json.Number would also take a string such as "2"; only numbers
	// count.
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return err
	}
	out := make([]int64, len(elems))
	for i, raw := range elems {
		n := json.Number(raw)
		if rawjson.Kind(raw) != "number" {
			return fmt.Errorf("dimension %d is not a number", i)
		}
		if v, err := n.Int64(); err == nil {
			out[i] = v
			continue
		}
		f, err := n.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return fmt.Errorf("dimension %d: %s is not an integer", i, n)
		}
		out[i] = int64(f)
	}
	*s = out
	return nil
}
