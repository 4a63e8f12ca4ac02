package webhook

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are the dispatcher's OpenTelemetry instruments; labels are the
// attempt's outcome and error class, fixed sets.
type Metrics struct {
	attempts metric.Int64Counter
	duration metric.Float64Histogram
}

// NewMetrics registers the instruments on m.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	a, err := m.Int64Counter("modelgate.webhook.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Webhook delivery attempts, by outcome and error class."))
	if err != nil {
		return nil, err
	}
	d, err := m.Float64Histogram("modelgate.webhook.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from sending a webhook to the receiver's answer."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15))
	if err != nil {
		return nil, err
	}
	return &Metrics{attempts: a, duration: d}, nil
}

func (m *Metrics) attempt(ctx context.Context, outcome, class string, d time.Duration) {
	if m == nil {
		return
	}
	m.attempts.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome), attribute.String("error_class", class)))
	m.duration.Record(ctx, d.Seconds())
}
