// Package httpapi is the inference service's HTTP surface: the legacy and
// batch prediction contracts, the Open Inference Protocol, the catalog,
// health and metrics. Handlers decode, call [scoring] and write; every
// error they return leaves through one mapper as RFC 9457 problem+json.
package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/inference/internal/scoring"
)

// Config tunes a Server.
type Config struct {
	MaxBatchRows int
	MaxBodyBytes int64
	// BuildVersion is reported by GET /v2.
	BuildVersion string
	// Now is the clock for latencies; nil means time.Now.
	Now func() time.Time
	// Jobs enables the /v2/jobs routes when its Store is set.
	Jobs JobsConfig
}

// Server serves the inference API over the registry it is given; the
// registry pointer may be swapped at any time by a reload.
type Server struct {
	cfg     Config
	reg     *atomic.Pointer[registry.Registry]
	ready   *atomic.Bool
	log     *slog.Logger
	metrics *metrics
	scorer  *scoring.Scorer
	handler http.Handler
}

// route is one pattern of the API. Handlers return their errors; oip routes
// add the Open Inference Protocol's error member to problem bodies, openai
// routes the OpenAI error object.
type route struct {
	pattern string
	handle  func(http.ResponseWriter, *http.Request) error
	oip     bool
	openai  bool
}

// New builds the server. metricsHandler serves /metrics (may be nil).
func New(cfg Config, reg *atomic.Pointer[registry.Registry], ready *atomic.Bool, log *slog.Logger,
	meter metric.Meter, metricsHandler http.Handler,
) (*Server, error) {
	m, err := newMetrics(meter)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg: cfg, reg: reg, ready: ready, log: log, metrics: m,
		scorer: scoring.New(scoring.Config{MaxBatchRows: cfg.MaxBatchRows}),
	}
	mux := http.NewServeMux()
	for _, rt := range []route{
		{pattern: "POST /v1/predict", handle: s.v1Predict},
		{pattern: "POST /v2/predict", handle: s.v2Predict},
		{pattern: "GET /v2/models", handle: s.catalog},
		{pattern: "GET /v2", handle: s.serverMetadata, oip: true},
		{pattern: "GET /v2/health/live", handle: s.live, oip: true},
		{pattern: "GET /v2/health/ready", handle: s.readyOIP, oip: true},
		{pattern: "GET /v2/models/{name}", handle: s.modelMetadata, oip: true},
		{pattern: "GET /v2/models/{name}/versions/{version}", handle: s.modelMetadata, oip: true},
		{pattern: "GET /v2/models/{name}/ready", handle: s.modelReady, oip: true},
		{pattern: "GET /v2/models/{name}/versions/{version}/ready", handle: s.modelReady, oip: true},
		{pattern: "POST /v2/models/{name}/infer", handle: s.infer, oip: true},
		{pattern: "POST /v2/models/{name}/versions/{version}/infer", handle: s.infer, oip: true},
		{pattern: "POST /v1/chat/completions", handle: s.chatCompletions, openai: true},
		{pattern: "POST /v1/completions", handle: s.completions, openai: true},
		{pattern: "GET /v1/models", handle: s.listModels, openai: true},
		{pattern: "GET /v1/models/{model}", handle: s.getModel, openai: true},
		{pattern: "GET /healthz", handle: s.healthz},
		{pattern: "GET /readyz", handle: s.readyz},
	} {
		mux.HandleFunc(rt.pattern, s.answer(rt))
	}
	for _, rt := range s.jobRoutes() {
		mux.HandleFunc(rt.pattern, s.answer(rt))
	}
	if metricsHandler != nil {
		mux.Handle("GET /metrics", metricsHandler)
	}
	s.handler = s.middleware(s.withProblems(mux))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// answer adapts a route's handler to net/http: an error it returns goes to
// the one error mapper, writeProblem.
func (s *Server) answer(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := rt.handle(w, r); err != nil {
			d := plainProblems
			switch {
			case rt.oip:
				d = oipProblems
			case rt.openai:
				d = openAIProblems
			}
			s.writeProblem(w, r, err, d)
		}
	}
}

// withProblems turns the mux's own 404 and 405 answers into problem+json.
func (s *Server) withProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		d := dialectOf(r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			s.writeProblem(w, r, methodNotAllowed(r), d)
			return
		}
		s.writeProblem(w, r, notFound(r), d)
	})
}

// statusOnly captures the status and headers of the mux's fallback handler.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

// writeJSON writes v as a JSON answer. Encoding happens before anything is
// written, so a failure is returned for the error mapper to answer.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set(header.ContentType, header.MediaJSON)
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}
