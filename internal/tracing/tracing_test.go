package tracing

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"off by default", nil, false},
		{"on with an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"on with a traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{"off when the exporter is none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"off when the SDK is disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Enabled(env(tc.env)))
		})
	}
}

func TestNew_offIsANoOp(t *testing.T) {
	t.Parallel()
	tr, err := New(t.Context(), "svc", env(nil))
	require.NoError(t, err)
	require.False(t, tr.On())
	h := http.NewServeMux()
	require.Same(t, h, Middleware(tr, h), "no wrapper when off")
	require.Empty(t, GRPCServerOptions(tr))
	require.NoError(t, tr.Shutdown(t.Context()))
}

func recording() (*Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	return &Tracer{Tracer: tp.Tracer("test"), Shutdown: tp.Shutdown, on: true}, rec
}

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestMiddleware_continuesTheTraceparent(t *testing.T) {
	t.Parallel()
	tr, rec := recording()
	var flushed bool
	h := Middleware(tr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		require.NoError(t, http.NewResponseController(w).Flush(), "streamed answers can still flush")
		flushed = true
	}))
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v2/predict", nil)
	req.Header.Set("traceparent", parent)
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.True(t, flushed)
	spans := rec.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	require.Equal(t, "HTTP POST", s.Name())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext().TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", s.Parent().SpanID().String())
	require.Contains(t, s.Attributes(), attribute.Int("http.response.status_code", 503))
}

func TestGRPCServerOptions_continueTheTraceparentInMetadata(t *testing.T) {
	t.Parallel()
	tr, rec := recording()
	opts := GRPCServerOptions(tr)
	require.Len(t, opts, 2)
	srv := grpc.NewServer(opts...) // the options are accepted
	defer srv.Stop()
	// Drive the unary interceptor the way grpc does.
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("traceparent", parent))
	var inner context.Context
	_, err := unaryInterceptor(tr)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/svc/Check"}, func(ctx context.Context, _ any) (any, error) {
		inner = ctx
		return nil, nil
	})
	require.NoError(t, err)
	require.NotNil(t, inner)
	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "/svc/Check", spans[0].Name())
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", spans[0].SpanContext().TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", spans[0].Parent().SpanID().String())
}

func TestSpan(t *testing.T) {
	t.Parallel()
	t.Run("is a child of the recording span in ctx", func(t *testing.T) {
		t.Parallel()
		tr, rec := recording()
		ctx, parent := tr.Start(t.Context(), "Process")
		_, end := Span(ctx, "validate")
		end(errors.New("bad body"))
		parent.End()
		spans := rec.Ended()
		require.Len(t, spans, 2)
		require.Equal(t, "validate", spans[0].Name())
		require.Equal(t, parent.SpanContext().SpanID(), spans[0].Parent().SpanID())
		require.Equal(t, "bad body", spans[0].Status().Description)
	})
}

// Not parallel: AllocsPerRun refuses to run in a parallel test.
func TestSpan_costsNothingWithoutARecordingSpan(t *testing.T) {
	ctx := t.Context()
	got, end := Span(ctx, "validate")
	require.Equal(t, ctx, got)
	end(nil)
	allocs := testing.AllocsPerRun(100, func() {
		_, end := Span(ctx, "validate")
		end(nil)
	})
	require.Zero(t, allocs)
}
