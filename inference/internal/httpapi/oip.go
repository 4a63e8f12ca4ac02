package httpapi

import (
	"net/http"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/inference/internal/scoring"
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
