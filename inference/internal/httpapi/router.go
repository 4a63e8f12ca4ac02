// Package httpapi is the inference service's HTTP surface: the legacy and
// batch prediction contracts, the Open Inference Protocol, the catalog,
// health and metrics. Every error leaves as RFC 9457 problem+json.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// Config tunes a Server.
type Config struct {
	MaxBatchRows int
	MaxBodyBytes int64
	// BuildVersion is reported by GET /v2.
	BuildVersion string
}

// Server serves the inference API over the registry it is given; the
// registry pointer may be swapped at any time by a reload.
type Server struct {
	cfg     Config
	reg     *atomic.Pointer[registry.Registry]
	ready   *atomic.Bool
	log     *slog.Logger
	metrics *metrics
	bufs    sync.Pool
	handler http.Handler
}

// New builds the server. metricsHandler serves /metrics (may be nil).
func New(cfg Config, reg *atomic.Pointer[registry.Registry], ready *atomic.Bool, log *slog.Logger,
	meter metric.Meter, metricsHandler http.Handler,
) (*Server, error) {
	m, err := newMetrics(meter)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, reg: reg, ready: ready, log: log, metrics: m}
	s.bufs.New = func() any { b := make([]float64, 0, 1024); return &b }

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/predict", s.v1Predict)
	mux.HandleFunc("POST /v2/predict", s.v2Predict)
	mux.HandleFunc("GET /v2/models", s.catalog)
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/health/live", s.live)
	mux.HandleFunc("GET /v2/health/ready", s.readyOIP)
	mux.HandleFunc("GET /v2/models/{name}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.modelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.modelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.infer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.infer)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if metricsHandler != nil {
		mux.Handle("GET /metrics", metricsHandler)
	}
	s.handler = s.middleware(withProblems(mux))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// withProblems turns the mux's own 404 and 405 answers into problem+json.
func withProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		oip := isOIP(r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, r, methodNotAllowed(r), oip)
			return
		}
		writeProblem(w, r, notFound(r), oip)
	})
}

// isOIP reports whether a request is on the /v2 tree, whose error bodies
// also carry the Open Inference Protocol's error member.
func isOIP(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v2") }

// statusOnly captures the status and headers of the mux's fallback handler.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set(header.ContentType, header.MediaJSON)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
