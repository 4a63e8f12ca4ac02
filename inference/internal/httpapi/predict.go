package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// versionChoice applies the precedence rule: the x-model-version request
// header (set by Envoy after resolution, or pinned by the client) wins over
// the version named in the body.
func versionChoice(r *http.Request, fromBody string) string {
	if v := r.Header.Get(header.ModelVersion); v != "" {
		return v
	}
	return fromBody
}

// scored is one evaluated batch.
type scored struct {
	v   *registry.Version
	n   int
	out []float64 // n*NumOutputs
	buf *[]float64
}

// score validates rows against the version's features and evaluates them.
// The caller must call putBuf on the result.
func (s *Server) score(v *registry.Version, rows []predict.Row) (*scored, []problem.Violation) {
	nf := len(v.Manifest.Inputs)
	k := v.Engine.NumOutputs()
	need := len(rows)*nf + len(rows)*k
	bp := s.bufs.Get().(*[]float64)
	if cap(*bp) < need {
		*bp = make([]float64, need)
	}
	buf := (*bp)[:need]
	x, out := buf[:len(rows)*nf], buf[len(rows)*nf:]
	if vs := matrix(v, rows, x); len(vs) > 0 {
		s.bufs.Put(bp)
		return nil, vs
	}
	v.Engine.Predict(x, len(rows), out)
	return &scored{v: v, n: len(rows), out: out, buf: bp}, nil
}

// putBuf returns a scored batch's buffer to the pool; sc must not be used
// after.
func (s *Server) putBuf(sc *scored) {
	s.bufs.Put(sc.buf)
	sc.out = nil
}

// resolveAndScore picks the version (header over body), reports every
// violation found so far together with the rows' own, and evaluates the
// rows. It writes the error answer itself and returns nil on failure.
func (s *Server) resolveAndScore(w http.ResponseWriter, r *http.Request, reg *registry.Registry,
	model, bodyVersion string, rows []predict.Row, vs []problem.Violation,
) *scored {
	info := infoFrom(r.Context())
	info.model = model
	v, err := reg.Resolve(model, versionChoice(r, bodyVersion))
	if err != nil {
		writeProblem(w, r, err, false)
		return nil
	}
	info.version = v.ID()
	w.Header().Set(header.ModelVersion, v.ID())
	if len(vs) > 0 {
		vs = append(vs, matrix(v, rows, make([]float64, len(rows)*len(v.Manifest.Inputs)))...)
		writeProblem(w, r, validationProblem(vs), false)
		return nil
	}
	sc, vs := s.score(v, rows)
	if len(vs) > 0 {
		writeProblem(w, r, validationProblem(vs), false)
		return nil
	}
	info.rows = sc.n
	return sc
}

func (s *Server) v1Predict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := readJSON(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		writeProblem(w, r, err, false)
		return
	}
	obj, vs, err := decodeObject(body, "inputs", "model_version", "options")
	if err != nil {
		writeProblem(w, r, err, false)
		return
	}
	reg := s.reg.Load()
	model := reg.Catalog.DefaultModel
	bodyVersion := optionalString(obj, "model_version", &vs)
	if raw, ok := obj["options"]; ok && jsonKind(raw) != "object" && jsonKind(raw) != "null" {
		vs = append(vs, problem.Violation{Pointer: "/options", Detail: "wrong type: expected object, got " + jsonKind(raw)})
	}
	rows, rvs, tooMany := rowsOf(obj, s.cfg.MaxBatchRows)
	if tooMany != nil {
		writeProblem(w, r, tooMany, false)
		return
	}
	vs = append(vs, rvs...)
	info := infoFrom(r.Context())
	sc := s.resolveAndScore(w, r, reg, model, bodyVersion, rows, vs)
	if sc == nil {
		return
	}
	v := sc.v
	resp := predict.V1Response{
		Predictions:  make([]any, sc.n),
		ModelVersion: v.ID(),
		RequestID:    info.id,
	}
	k := v.Engine.NumOutputs()
	for i := range sc.n {
		if v.Classification() {
			resp.Predictions[i] = v.Manifest.Output.Classes[argmax(sc.out[i*k:(i+1)*k])]
		} else {
			resp.Predictions[i] = sc.out[i]
		}
	}
	s.putBuf(sc)
	resp.LatencyMS = ms(time.Since(start))
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) v2Predict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := readJSON(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		writeProblem(w, r, err, false)
		return
	}
	obj, vs, err := decodeObject(body, "model", "version", "inputs", "options")
	if err != nil {
		writeProblem(w, r, err, false)
		return
	}
	model := optionalString(obj, "model", &vs)
	if _, ok := obj["model"]; !ok {
		vs = append(vs, problem.Violation{Pointer: "/model", Detail: "missing"})
	}
	bodyVersion := optionalString(obj, "version", &vs)
	var opts predict.V2Options
	if raw, ok := obj["options"]; ok && jsonKind(raw) != "null" {
		vs = append(vs, decodeV2Options(raw, &opts)...)
	}
	rows, rvs, tooMany := rowsOf(obj, s.cfg.MaxBatchRows)
	if tooMany != nil {
		writeProblem(w, r, tooMany, false)
		return
	}
	vs = append(vs, rvs...)
	info := infoFrom(r.Context())
	if model == "" {
		if len(vs) == 0 {
			vs = append(vs, problem.Violation{Pointer: "/model", Detail: "empty"})
		}
		writeProblem(w, r, validationProblem(vs), false)
		return
	}
	sc := s.resolveAndScore(w, r, s.reg.Load(), model, bodyVersion, rows, vs)
	if sc == nil {
		return
	}
	v := sc.v
	resp := predict.V2Response{
		Model: model, ModelVersion: v.ID(), RequestID: info.id,
		Predictions: make([]predict.Prediction, sc.n),
		Usage:       predict.Usage{Rows: sc.n},
	}
	k := v.Engine.NumOutputs()
	classes := v.Manifest.Output.Classes
	values := make([]float64, sc.n)
	for i := range sc.n {
		row := sc.out[i*k : (i+1)*k]
		if !v.Classification() {
			values[i] = row[0]
			resp.Predictions[i].Value = &values[i]
			continue
		}
		resp.Predictions[i].Label = classes[argmax(row)]
		if opts.ReturnProbabilities {
			p := make(map[string]float64, k)
			for c, name := range classes {
				p[name] = row[c]
			}
			resp.Predictions[i].Probabilities = p
		}
	}
	s.putBuf(sc)
	resp.LatencyMS = ms(time.Since(start))
	writeJSON(w, http.StatusOK, resp)
}

func decodeV2Options(raw json.RawMessage, opts *predict.V2Options) []problem.Violation {
	if jsonKind(raw) != "object" {
		return []problem.Violation{{Pointer: "/options", Detail: "wrong type: expected object, got " + jsonKind(raw)}}
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	var vs []problem.Violation
	for k, val := range m {
		switch k {
		case "return_probabilities":
			if jsonKind(val) != "boolean" {
				vs = append(vs, problem.Violation{Pointer: "/options/return_probabilities", Detail: "wrong type: expected boolean, got " + jsonKind(val)})
				continue
			}
			opts.ReturnProbabilities = string(val) == "true"
		default:
			vs = append(vs, problem.Violation{Pointer: problem.Pointer("options", k), Detail: "unknown option"})
		}
	}
	return vs
}

func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
