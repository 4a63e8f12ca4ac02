package httpapi

import (
	"cmp"
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// genMetrics are the text-generation instruments, named and labelled by
// the OpenTelemetry GenAI semantic conventions (status "development"):
// token usage by type, request duration, time to first token and time per
// output token. Label values are bounded as for the HTTP metrics: the
// operation is one of two, the model and version are resolved ones, and
// error.type is one of our problem types.
type genMetrics struct {
	tokens   metric.Int64Histogram
	duration metric.Float64Histogram
	ttft     metric.Float64Histogram
	tpot     metric.Float64Histogram
}

// providerName is gen_ai.provider.name for everything this service serves.
const providerName = "modelgate"

func newGenMetrics(m metric.Meter) (*genMetrics, error) {
	var g genMetrics
	var err error
	// Powers of 4 from 1 to 4^13, the conventions' advice.
	tokenBuckets := make([]float64, 14)
	for i, b := 0, 1.0; i < len(tokenBuckets); i, b = i+1, b*4 {
		tokenBuckets[i] = b
	}
	if g.tokens, err = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens used per request, by gen_ai.token.type (input or output)."),
		metric.WithExplicitBucketBoundaries(tokenBuckets...)); err != nil {
		return nil, err
	}
	secs := []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60}
	if g.duration, err = m.Float64Histogram("gen_ai.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of generation requests, first byte in to last byte out."),
		metric.WithExplicitBucketBoundaries(secs...)); err != nil {
		return nil, err
	}
	if g.ttft, err = m.Float64Histogram("gen_ai.server.time_to_first_token", metric.WithUnit("s"),
		metric.WithDescription("Time from the start of generation to the first piece of text."),
		metric.WithExplicitBucketBoundaries(secs...)); err != nil {
		return nil, err
	}
	if g.tpot, err = m.Float64Histogram("gen_ai.server.time_per_output_token", metric.WithUnit("s"),
		metric.WithDescription("Time per output token after the first."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1)); err != nil {
		return nil, err
	}
	return &g, nil
}

// recordGeneration adds one generation request to the instruments.
func (m *metrics) recordGeneration(ctx context.Context, op string, info *reqInfo, st genStats) {
	attrs := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", op),
		attribute.String("gen_ai.provider.name", providerName),
		attribute.String("gen_ai.request.model", cmp.Or(info.model, unknown)),
		attribute.String("model_version", cmp.Or(info.version, unknown)),
	}
	dur := attrs
	if info.problemType != "" {
		dur = append(dur[:len(dur):len(dur)], attribute.String("error.type", info.problemType[strings.LastIndexByte(info.problemType, '/')+1:]))
	}
	m.gen.duration.Record(ctx, st.end.Sub(st.start).Seconds(), metric.WithAttributes(dur...))
	if st.prompt > 0 {
		m.gen.tokens.Record(ctx, int64(st.prompt), metric.WithAttributes(append(attrs[:len(attrs):len(attrs)], attribute.String("gen_ai.token.type", "input"))...))
	}
	if st.output > 0 {
		m.gen.tokens.Record(ctx, int64(st.output), metric.WithAttributes(append(attrs[:len(attrs):len(attrs)], attribute.String("gen_ai.token.type", "output"))...))
	}
	if !st.first.IsZero() {
		m.gen.ttft.Record(ctx, st.first.Sub(st.start).Seconds(), metric.WithAttributes(attrs...))
		if st.output > 1 {
			m.gen.tpot.Record(ctx, st.end.Sub(st.first).Seconds()/float64(st.output-1), metric.WithAttributes(attrs...))
		}
	}
}
