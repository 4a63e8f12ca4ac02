package jobs

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	api "github.com/modelgate/modelgate/api/jobs"
)

// Metrics are the workers' OpenTelemetry instruments. Labels are the
// served model version and a job state: fixed sets, never client input.
type Metrics struct {
	runs     metric.Int64Counter
	duration metric.Float64Histogram
	rows     metric.Int64Counter
}

// NewMetrics registers the instruments on m.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	runs, err := m.Int64Counter("modelgate.jobs.runs", metric.WithUnit("{job}"),
		metric.WithDescription("Job runs, by the state they ended in (canceled: a cancel won over the result)."))
	if err != nil {
		return nil, err
	}
	d, err := m.Float64Histogram("modelgate.jobs.run.duration", metric.WithUnit("s"),
		metric.WithDescription("Time a worker spent running one job."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))
	if err != nil {
		return nil, err
	}
	rows, err := m.Int64Counter("modelgate.jobs.rows", metric.WithUnit("{row}"),
		metric.WithDescription("Rows predicted by jobs."))
	if err != nil {
		return nil, err
	}
	return &Metrics{runs: runs, duration: d, rows: rows}, nil
}

// ran records one run; a nil Metrics records nothing.
func (m *Metrics) ran(ctx context.Context, model, version string, st api.Status, d time.Duration, rows int) {
	if m == nil {
		return
	}
	attrs := metric.WithAttributes(attribute.String("model", model), attribute.String("model_version", version))
	m.runs.Add(ctx, 1, attrs, metric.WithAttributes(attribute.String("status", string(st))))
	m.duration.Record(ctx, d.Seconds(), attrs)
	if st == api.Succeeded {
		m.rows.Add(ctx, int64(rows), attrs)
	}
}
