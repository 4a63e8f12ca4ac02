package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the service's OpenTelemetry instruments. Latency percentiles
// come from the duration histogram; per-version traffic from its
// model/model_version attributes.
type metrics struct {
	duration    metric.Float64Histogram
	rows        metric.Int64Histogram
	predictions metric.Int64Counter
	gen         *genMetrics
}

func newMetrics(m metric.Meter) (*metrics, error) {
	d, err := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP requests served by inference."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
	if err != nil {
		return nil, err
	}
	rows, err := m.Int64Histogram("modelgate.inference.batch.rows", metric.WithUnit("{row}"),
		metric.WithDescription("Rows per prediction request."),
		metric.WithExplicitBucketBoundaries(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000))
	if err != nil {
		return nil, err
	}
	p, err := m.Int64Counter("modelgate.inference.predictions", metric.WithUnit("{prediction}"),
		metric.WithDescription("Rows predicted, per model version."))
	if err != nil {
		return nil, err
	}
	gen, err := newGenMetrics(m)
	if err != nil {
		return nil, err
	}
	return &metrics{duration: d, rows: rows, predictions: p, gen: gen}, nil
}

// unknown labels a request whose model or version did not resolve.
const unknown = "unknown"

// record adds one request to the instruments. Every label value comes from
// a fixed set, never from the client: the route pattern, a known method,
// our own status, and the model and version only once resolved, so a flood
// of invented names or methods cannot grow the series without bound.
func (m *metrics) record(ctx context.Context, route, method string, status int, info *reqInfo, d time.Duration) {
	model, version := cmp.Or(info.model, unknown), cmp.Or(info.version, unknown)
	attrs := metric.WithAttributes(
		attribute.String("http.route", route),
		attribute.String("http.request.method", methodLabel(method)),
		attribute.String("http.response.status_code", strconv.Itoa(status)),
		attribute.String("model", model),
		attribute.String("model_version", version),
	)
	m.duration.Record(ctx, d.Seconds(), attrs)
	if info.rows > 0 && status < 400 {
		mv := metric.WithAttributes(attribute.String("model", model), attribute.String("model_version", version))
		m.rows.Record(ctx, int64(info.rows), mv)
		m.predictions.Add(ctx, int64(info.rows), mv)
	}
}

// methodLabel maps a request method to the label value: the methods of RFC
// 9110 and PATCH as they are, anything else "_OTHER", the value the
// OpenTelemetry HTTP conventions give http.request.method for unknown
// methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	default:
		return "_OTHER"
	}
}
