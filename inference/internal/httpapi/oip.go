package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/scoring"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// infer serves POST /v2/models/{name}[/versions/{version}]/infer; see
// [scoring.Scorer.Tensors] for the input layouts it accepts.
func (s *Server) infer(w http.ResponseWriter, r *http.Request) error {
	body, bin, err := readInferBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeInferRequest(body)
	if err != nil {
		return err
	}
	model := r.PathValue("name")
	info := infoFrom(r.Context())
	info.model = model
	v, err := s.reg.Load().Resolve(model, versionChoice(r, r.PathValue("version")))
	if err != nil {
		return err
	}
	resolved(w, info, v)
	b, err := s.scorer.Tensors(v, scoring.TensorInput{Inputs: req.Inputs, Outputs: req.Outputs, Binary: bin})
	if err != nil {
		return err
	}
	defer b.Release()
	info.rows = b.Rows()
	resp := oip.InferResponse{ModelName: model, ModelVersion: v.ID(), ID: req.ID, Outputs: b.OIPOutputs()}
	if resp.ID == "" {
		resp.ID = info.id
	}
	return writeInferResponse(w, req, &resp)
}

// decodeInferRequest reads an infer request's JSON (head).
func decodeInferRequest(body []byte) (*oip.InferRequest, error) {
	// encoding/json turns an explicit null into a zero value; the protocol
	// has no null members, so refuse them rather than guess.
	var members map[string]json.RawMessage
	err := json.Unmarshal(body, &members)
	if p := syntaxProblem(err); p != nil {
		return nil, p
	}
	if err == nil {
		var nulls []problem.Violation
		for _, name := range []string{"id", "parameters", "inputs", "outputs"} {
			if raw, ok := members[name]; ok && rawjson.Kind(raw) == "null" {
				nulls = append(nulls, problem.Violation{Pointer: "/" + name, Detail: "wrong type: got null"})
			}
		}
		if len(nulls) > 0 {
			return nil, validationProblem(nulls)
		}
	}
	var req oip.InferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, validationProblem([]problem.Violation{{Pointer: "", Detail: "the body does not match the inference request shape: " + err.Error()}})
	}
	return &req, nil
}
