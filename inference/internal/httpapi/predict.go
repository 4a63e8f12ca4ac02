package httpapi

import (
	"net/http"
	"time"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/inference/internal/scoring"
)

// v1Predict serves POST /v1/predict, the legacy contract: rows for the
// catalog's default model.
func (s *Server) v1Predict(w http.ResponseWriter, r *http.Request) error {
	start := s.cfg.Now()
	info := infoFrom(r.Context())
	req, err := s.decodeV1(w, r)
	if err != nil {
		return err
	}
	b, err := s.predictRows(w, r, info, req)
	if err != nil {
		return err
	}
	defer b.Release()
	return writeJSON(w, http.StatusOK, predict.V1Response{
		Predictions:  b.V1Predictions(),
		ModelVersion: b.Version.ID(),
		RequestID:    info.id,
		LatencyMS:    ms(s.cfg.Now().Sub(start)),
	})
}

// v2Predict serves POST /v2/predict, the batch contract.
func (s *Server) v2Predict(w http.ResponseWriter, r *http.Request) error {
	start := s.cfg.Now()
	info := infoFrom(r.Context())
	req, err := s.decodeV2(w, r)
	if err != nil {
		return err
	}
	b, err := s.predictRows(w, r, info, req)
	if err != nil {
		return err
	}
	defer b.Release()
	return writeJSON(w, http.StatusOK, predict.V2Response{
		Model: req.model, ModelVersion: b.Version.ID(), RequestID: info.id,
		Predictions: b.V2Predictions(req.opts),
		Usage:       predict.Usage{Rows: b.Rows()},
		LatencyMS:   ms(s.cfg.Now().Sub(start)),
	})
}

// predictRows resolves the version a rows request names (no model means
// the catalog's default: the v1 contract names none) and scores the rows.
// Problems the decoder found are reported together with the rows' own, so
// the client sees every violation at once.
func (s *Server) predictRows(w http.ResponseWriter, r *http.Request, info *reqInfo, req rowsRequest) (*scoring.Batch, error) {
	reg := s.reg.Load()
	if req.model == "" {
		req.model = reg.Catalog.DefaultModel
	}
	v, err := reg.Resolve(req.model, versionChoice(r, req.version))
	if err != nil {
		return nil, err
	}
	resolved(w, info, v)
	if err := scoring.Tabular(v); err != nil {
		return nil, err
	}
	if len(req.violations) > 0 {
		return nil, validationProblem(append(req.violations, scoring.CheckRows(v, req.rows)...))
	}
	b, err := s.scorer.Rows(v, req.rows)
	if err != nil {
		return nil, err
	}
	info.rows = b.Rows()
	return b, nil
}

// versionChoice applies the precedence rule: the x-model-version request
// header (set by Envoy after resolution, or pinned by the client) wins over
// the version named in the body or path.
func versionChoice(r *http.Request, fromBody string) string {
	if v := r.Header.Get(header.ModelVersion); v != "" {
		return v
	}
	return fromBody
}

// resolved records the version that answers a request: for the access log
// and metrics, and in the x-model-version answer header.
func resolved(w http.ResponseWriter, info *reqInfo, v *registry.Version) {
	info.model, info.version = v.Name(), v.ID()
	w.Header().Set(header.ModelVersion, v.ID())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
