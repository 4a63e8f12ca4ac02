package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/inference/internal/jobs"
)

func TestMetrics_recordsRuns(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	m, err := jobs.NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	require.NoError(t, err)
	s := jobs.NewStore(jobs.Config{}, startRedis(t))
	j, _, err := s.Create(t.Context(), newJob("alice"))
	require.NoError(t, err)
	startWorkerWith(t, s, &countingRunner{}, m)
	waitStatus(t, s, "alice", j.ID, api.Succeeded)
	var rm metricdata.ResourceMetrics
	require.Eventually(t, func() bool {
		require.NoError(t, reader.Collect(t.Context(), &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, met := range sm.Metrics {
				if sum, ok := met.Data.(metricdata.Sum[int64]); ok && met.Name == "modelgate.jobs.runs" && len(sum.DataPoints) == 1 {
					status, _ := sum.DataPoints[0].Attributes.Value("status")
					return status.AsString() == "succeeded" && sum.DataPoints[0].Value == 1
				}
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}
