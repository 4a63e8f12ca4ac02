// Package usage writes one structured usage record per request and the
// OpenTelemetry metrics an operator reads latency percentiles, error rate,
// volume, cache hit rate and traffic per model version from.
package usage

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names. The Prometheus exporter renders them with underscores and
// unit suffixes (modelgate_extproc_request_duration_seconds, ...).
const (
	MetricDuration = "modelgate.extproc.request.duration"
	MetricRequests = "modelgate.extproc.requests"
	MetricErrors   = "modelgate.extproc.errors"
	MetricCache    = "modelgate.extproc.cache.results"
	MetricBytes    = "modelgate.extproc.body.size"
)

// DurationBuckets are the histogram bounds in seconds: fine below 10 ms
// where cache hits and validation errors land, coarse above. 0.2 is the
// latency SLO's threshold (p95 < 200 ms): the SLO rules in ops/prometheus
// count the requests at or under it from the le="0.2" bucket.
var DurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2.5, 5, 10}

// Cache results as reported in x-cache and in records.
const (
	CacheHit    = "HIT"
	CacheMiss   = "MISS"
	CacheBypass = "BYPASS"
)

// Record is what one request did. Zero fields are omitted from the log.
type Record struct {
	RequestID string
	Client    string
	Tier      string
	KeyID     string
	Route     string
	Method    string
	Path      string
	Model     string
	// Version is the concrete version that served; Requested is what the
	// client asked for (a version or an alias).
	Version   string
	Requested string
	Status    int
	// Cache is HIT, MISS, BYPASS or "" when the route is not cached.
	Cache string
	// Problem is the problem type URI of an error answered by extproc.
	Problem       string
	Latency       time.Duration
	RequestBytes  int64
	ResponseBytes int64
	Rows          int
	// PromptTokens and CompletionTokens are a text generation's, as the
	// model reported them; TokensReserved what the admission counted.
	PromptTokens, CompletionTokens, TokensReserved int
}

// labels are the metric label values of one record.
type labels struct{ route, model, version, class, cache string }

// labelSets are the attribute sets of one labels value, built once: a
// record costs map lookups instead of building and sorting sets.
type labelSets struct {
	common, cache, request, response metric.MeasurementOption
}

// maxLabelSets bounds the memo; label values are bounded (routes, resolved
// versions, status classes), so it is not reached in practice, and past it
// sets are built per record.
const maxLabelSets = 4096

// Recorder emits records. It is safe for concurrent use.
type Recorder struct {
	setsMu   sync.RWMutex
	setsMemo map[labels]*labelSets
	logger   *slog.Logger
	duration metric.Float64Histogram
	requests metric.Int64Counter
	errors   metric.Int64Counter
	cache    metric.Int64Counter
	bytes    metric.Int64Histogram
}

// New creates the instruments on meter.
func New(logger *slog.Logger, meter metric.Meter) (*Recorder, error) {
	r := &Recorder{logger: logger, setsMemo: map[labels]*labelSets{}}
	var err error
	if r.duration, err = meter.Float64Histogram(MetricDuration,
		metric.WithDescription("Time from Envoy's first ext_proc message of a request to the end of its stream."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(DurationBuckets...)); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricDuration, err)
	}
	if r.requests, err = meter.Int64Counter(MetricRequests,
		metric.WithDescription("Requests by route, model, model version, status class and cache result."),
		metric.WithUnit("{request}")); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricRequests, err)
	}
	if r.errors, err = meter.Int64Counter(MetricErrors,
		metric.WithDescription("Requests answered with a 4xx or 5xx status, by route, status and problem type."),
		metric.WithUnit("{request}")); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricErrors, err)
	}
	if r.cache, err = meter.Int64Counter(MetricCache,
		metric.WithDescription("Response cache results (HIT, MISS, BYPASS) by route and model."),
		metric.WithUnit("{request}")); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricCache, err)
	}
	if r.bytes, err = meter.Int64Histogram(MetricBytes,
		metric.WithDescription("Request and response body sizes seen by extproc, by direction."),
		metric.WithUnit("By"), metric.WithExplicitBucketBoundaries(256, 1024, 4096, 16384, 65536, 262144, 1048576)); err != nil {
		return nil, fmt.Errorf("create %s: %w", MetricBytes, err)
	}
	return r, nil
}

// sets returns the attribute sets of l.
func (r *Recorder) sets(l labels) *labelSets {
	r.setsMu.RLock()
	ls, ok := r.setsMemo[l]
	r.setsMu.RUnlock()
	if ok {
		return ls
	}
	route, model := attribute.String("route", l.route), attribute.String("model", l.model)
	ls = &labelSets{
		common: metric.WithAttributeSet(attribute.NewSet(route, model,
			attribute.String("model_version", l.version),
			attribute.String("status_class", l.class),
			attribute.String("cache", l.cache))),
		cache:    metric.WithAttributeSet(attribute.NewSet(route, model, attribute.String("result", l.cache))),
		request:  metric.WithAttributeSet(attribute.NewSet(route, attribute.String("direction", "request"))),
		response: metric.WithAttributeSet(attribute.NewSet(route, attribute.String("direction", "response"))),
	}
	r.setsMu.Lock()
	if len(r.setsMemo) < maxLabelSets {
		r.setsMemo[l] = ls
	}
	r.setsMu.Unlock()
	return ls
}

// StatusClass renders 404 as "4xx"; an unknown status is "unknown".
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "unknown"
	}
	return strconv.Itoa(status/100) + "xx"
}

// Record logs rec and updates the metrics.
func (r *Recorder) Record(ctx context.Context, rec Record) {
	class := StatusClass(rec.Status)
	model := rec.Model
	if rec.Version == "" && model != "" {
		// A name the client sent that never resolved: not a label value,
		// or anyone could grow the series without bound.
		model = "unknown"
	}
	ls := r.sets(labels{route: rec.Route, model: model, version: rec.Version, class: class, cache: rec.Cache})
	r.duration.Record(ctx, rec.Latency.Seconds(), ls.common)
	r.requests.Add(ctx, 1, ls.common)
	if rec.Status >= 400 {
		r.errors.Add(ctx, 1, metric.WithAttributes(attribute.String("route", rec.Route),
			attribute.String("status", strconv.Itoa(rec.Status)),
			attribute.String("problem", rec.Problem)))
	}
	if rec.Cache != "" {
		r.cache.Add(ctx, 1, ls.cache)
	}
	if rec.RequestBytes > 0 {
		r.bytes.Record(ctx, rec.RequestBytes, ls.request)
	}
	if rec.ResponseBytes > 0 {
		r.bytes.Record(ctx, rec.ResponseBytes, ls.response)
	}
	if !r.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 20)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("request_id", rec.RequestID)
	add("client", rec.Client)
	add("tier", rec.Tier)
	add("key_id", rec.KeyID)
	add("route", rec.Route)
	add("method", rec.Method)
	add("path", rec.Path)
	add("model", rec.Model)
	add("model_version", rec.Version)
	add("requested_version", rec.Requested)
	attrs = append(attrs, slog.Int("status", rec.Status))
	add("cache", rec.Cache)
	add("problem", rec.Problem)
	attrs = append(attrs,
		slog.Float64("latency_ms", float64(rec.Latency.Microseconds())/1000),
		slog.Int64("request_bytes", rec.RequestBytes),
		slog.Int64("response_bytes", rec.ResponseBytes))
	if rec.PromptTokens > 0 || rec.CompletionTokens > 0 || rec.TokensReserved > 0 {
		attrs = append(attrs, slog.Int("prompt_tokens", rec.PromptTokens), slog.Int("completion_tokens", rec.CompletionTokens),
			slog.Int("tokens_reserved", rec.TokensReserved))
	}
	if rec.Rows > 0 {
		attrs = append(attrs, slog.Int("rows", rec.Rows))
	}
	r.logger.LogAttrs(ctx, slog.LevelInfo, "usage", attrs...)
}
