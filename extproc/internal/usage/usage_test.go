package usage_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/modelgate/modelgate/extproc/internal/usage"
)

func TestRecorder_Record(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r, err := usage.New(slog.New(slog.NewJSONHandler(&logs, nil)), mp.Meter("test"))
	require.NoError(t, err)

	r.Record(t.Context(), usage.Record{
		RequestID: "req-1", Client: "acme", Tier: "pro", Route: "v2_predict", Model: "iris",
		Version: "2", Requested: "latest", Status: 200, Cache: usage.CacheHit,
		Latency: 1500 * time.Microsecond, RequestBytes: 120, ResponseBytes: 300, Rows: 2,
	})
	r.Record(t.Context(), usage.Record{Route: "v2_predict", Status: 400, Problem: "https://modelgate.dev/problems/validation-failed"})
	r.Record(t.Context(), usage.Record{Route: "chat_completions", Status: 200, PromptTokens: 30, CompletionTokens: 16, TokensReserved: 19})

	lines := bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n"))
	require.Len(t, lines, 3, "one record per request")
	var chat map[string]any
	require.NoError(t, json.Unmarshal(lines[2], &chat))
	require.Equal(t, []any{30.0, 16.0, 19.0}, []any{chat["prompt_tokens"], chat["completion_tokens"], chat["tokens_reserved"]})
	var rec map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &rec))
	for k, v := range map[string]any{
		"msg": "usage", "request_id": "req-1", "client": "acme", "tier": "pro", "route": "v2_predict",
		"model": "iris", "model_version": "2", "requested_version": "latest", "status": 200.0,
		"cache": "HIT", "latency_ms": 1.5, "request_bytes": 120.0, "response_bytes": 300.0, "rows": 2.0,
	} {
		require.Equal(t, v, rec[k], k)
	}

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	got := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = true
			if m.Name == usage.MetricDuration {
				h := m.Data.(metricdata.Histogram[float64])
				require.Len(t, h.DataPoints, 3, "one series per attribute set")
			}
		}
	}
	for _, name := range []string{usage.MetricDuration, usage.MetricRequests, usage.MetricErrors, usage.MetricCache, usage.MetricBytes} {
		require.True(t, got[name], name)
	}
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	require.Equal(t, "2xx", usage.StatusClass(200))
	require.Equal(t, "4xx", usage.StatusClass(404))
	require.Equal(t, "unknown", usage.StatusClass(0))
}
