// Package tracing sets up OpenTelemetry tracing for both services: W3C
// trace context (traceparent) taken from what Envoy sends, one server span
// per HTTP request or gRPC call, exported over OTLP/HTTP. It is off unless
// the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_TRACES_EXPORTER is
// not "none"); the exporter reads the other OTEL_EXPORTER_OTLP_* settings
// and OTEL_BSP_* the batch processor's.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Propagator reads and writes W3C trace context (traceparent, tracestate).
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Enabled reports whether getenv configures an OTLP trace exporter.
func Enabled(getenv func(string) string) bool {
	if getenv("OTEL_TRACES_EXPORTER") == "none" || getenv("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Tracer is a service's tracer and how to stop it.
type Tracer struct {
	trace.Tracer
	// Shutdown flushes the spans not yet exported.
	Shutdown func(context.Context) error
	on       bool
}

// On reports whether spans are exported.
func (t *Tracer) On() bool { return t.on }

// New returns the tracer of service (OTEL_SERVICE_NAME overrides the
// name), or a no-op one when tracing is off.
func New(ctx context.Context, service string, getenv func(string) string) (*Tracer, error) {
	if !Enabled(getenv) {
		return &Tracer{Tracer: noop.NewTracerProvider().Tracer(""), Shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	if name := getenv("OTEL_SERVICE_NAME"); name != "" {
		service = name
	}
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		// Envoy decides: a sampled traceparent is traced, an unsampled one
		// is not; a request without one is traced.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	return &Tracer{Tracer: tp.Tracer("github.com/modelgate/modelgate"), Shutdown: tp.Shutdown, on: true}, nil
}

// Middleware traces every HTTP request with a server span, child of the
// traceparent the request carries.
func Middleware(t *Tracer, next http.Handler) http.Handler {
	if !t.On() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		// The span name is the method only: paths are unbounded.
		ctx, span := t.Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(sw.status))
		}
	})
}

// statusWriter remembers the status; Unwrap keeps http.ResponseController
// (flushes of streamed answers) working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher for handlers that assert it.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// mdCarrier reads gRPC metadata as a propagation carrier.
type mdCarrier metadata.MD

func (c mdCarrier) Get(k string) string {
	if v := metadata.MD(c).Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (c mdCarrier) Set(k, v string) { metadata.MD(c).Set(k, v) }
func (c mdCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

func serverContext(ctx context.Context) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	return Propagator.Extract(ctx, mdCarrier(md))
}

// GRPCServerOptions trace every unary call and stream with a server span,
// child of the traceparent in its metadata (Envoy sends one on its
// ext_authz and ext_proc calls when it traces); none when tracing is off.
func GRPCServerOptions(t *Tracer) []grpc.ServerOption {
	if !t.On() {
		return nil
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, span := t.Start(serverContext(ss.Context()), info.FullMethod, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("rpc.system", "grpc")))
		defer span.End()
		err := h(srv, &tracedStream{ServerStream: ss, ctx: ctx})
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unaryInterceptor(t)), grpc.ChainStreamInterceptor(stream)}
}

func unaryInterceptor(t *Tracer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, span := t.Start(serverContext(ctx), info.FullMethod, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("rpc.system", "grpc")))
		defer span.End()
		resp, err := h(ctx, req)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return resp, err
	}
}

type tracedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *tracedStream) Context() context.Context { return s.ctx }

// Span starts a child span of the span in ctx, for a step of a request
// (authz, validation, cache). When that span is not recording (tracing
// off, or not sampled) it costs nothing: ctx comes back as it was.
func Span(ctx context.Context, name string) (context.Context, func(error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, endNothing
	}
	ctx, s := parent.TracerProvider().Tracer("github.com/modelgate/modelgate").Start(ctx, name)
	return ctx, func(err error) {
		if err != nil {
			s.SetStatus(codes.Error, err.Error())
		}
		s.End()
	}
}

func endNothing(error) {}
