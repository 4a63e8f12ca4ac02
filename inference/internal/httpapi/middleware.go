package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/internal/logging"
)

// reqInfo is filled in by handlers and read by the middleware for the access
// log and metrics.
type reqInfo struct {
	id string
	// model and version are set once resolved (see resolved); what the
	// client asked for never reaches a label.
	model       string
	version     string
	rows        int
	problemType string
	// promptTokens and completionTokens count a generation's tokens.
	promptTokens, completionTokens int
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(infoKey{}).(*reqInfo)
	return i
}

// recorder tracks the status and whether headers went out.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// validRequestID accepts printable ASCII ids up to 128 bytes; anything else
// is replaced so a hostile id cannot forge log lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// middleware assigns the request id, recovers panics into a 500 problem,
// and writes one access log line and the request metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		id := r.Header.Get(header.RequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &reqInfo{id: id}
		log := s.log.With(slog.String("request_id", id))
		ctx := logging.WithLogger(context.WithValue(r.Context(), infoKey{}, info), log)
		r = r.WithContext(ctx)
		w.Header().Set(header.RequestID, id)
		rec := &recorder{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())), slog.String("path", r.URL.Path))
				if rec.status == 0 {
					s.writeProblem(rec, r, internalProblem(), dialectOf(r))
				}
			}
			elapsed := s.cfg.Now().Sub(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			s.metrics.record(r.Context(), route, r.Method, rec.status, info, elapsed)
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
				slog.Int("status", rec.status), slog.Int("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("model", info.model), slog.String("model_version", info.version),
				slog.Int("rows", info.rows), slog.Int("prompt_tokens", info.promptTokens),
				slog.Int("completion_tokens", info.completionTokens), slog.String("problem", info.problemType))
		}()
		next.ServeHTTP(rec, r)
	})
}
