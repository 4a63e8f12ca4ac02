package usage_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/modelgate/modelgate/extproc/internal/usage"
)

// Model names a client invents (in bodies or paths) never become label
// values: a flood of them leaves the series count where it was.
func TestRecorder_boundedLabels(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r, err := usage.New(slog.New(slog.DiscardHandler), mp.Meter("test"))
	require.NoError(t, err)

	series := func() (int, []string) {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(t.Context(), &rm))
		n, models := 0, []string{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != usage.MetricRequests {
					continue
				}
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					n++
					v, _ := dp.Attributes.Value("model")
					models = append(models, v.AsString())
				}
			}
		}
		return n, models
	}
	r.Record(t.Context(), usage.Record{Route: "v2_predict", Model: "iris", Version: "2", Status: 200})
	for i := range 2000 {
		// Unresolved: a name but no version.
		r.Record(t.Context(), usage.Record{Route: "v2_predict", Model: strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", 10000), Status: 404})
	}
	n, models := series()
	require.Equal(t, 2, n, "iris:2 and one series for every unknown name")
	require.ElementsMatch(t, []string{"iris", "unknown"}, models)
}
