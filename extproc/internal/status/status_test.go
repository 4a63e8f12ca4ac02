package status_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/status"
)

// fakePrometheus answers instant queries from a table of vector results
// and /api/v1/alerts with alerts.
func fakePrometheus(t *testing.T, results map[string]string, alerts string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/query":
			res, ok := results[r.URL.Query().Get("query")]
			if !ok {
				res = "[]"
			}
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":`+res+`}}`)
		case "/api/v1/alerts":
			_, _ = io.WriteString(w, `{"status":"success","data":{"alerts":`+alerts+`}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func vec(value string, labels map[string]string) string {
	b, _ := json.Marshal(labels)
	return `{"metric":` + string(b) + `,"value":[1700000000,"` + value + `"]}`
}

func get(t *testing.T, p *status.Page) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/status", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("content-type"))
	return rec.Body.String()
}

func clock() time.Time { return time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) }

func TestPage_rendersTheSLAAgainstItsObjectives(t *testing.T) {
	t.Parallel()
	iris1 := map[string]string{"model": "iris", "model_version": "1"}
	iris2 := map[string]string{"model": "iris", "model_version": "2"}
	prom := fakePrometheus(t, map[string]string{
		"gateway:modelgate_requests:rate5m":                           "[" + vec("12.5", nil) + "]",
		"gateway:modelgate_request_duration_seconds:p95_rate5m":       "[" + vec("0.0123", nil) + "]",
		"gateway:modelgate_request_errors:ratio_rate5m":               "[" + vec("0.004", nil) + "]",
		"gateway:modelgate_cache_hits:ratio_rate5m":                   "[" + vec("0.25", nil) + "]",
		"gateway:modelgate_sli_unavailable:ratio_rate1h":              "[" + vec("0", nil) + "]",
		"model_version:modelgate_requests:rate5m":                     "[" + vec("2.5", iris1) + "," + vec("7.5", iris2) + "]",
		"model_version:modelgate_version_mix:ratio_rate5m":            "[" + vec("0.25", iris1) + "," + vec("0.75", iris2) + "]",
		"model_version:modelgate_request_duration_seconds:p95_rate5m": "[" + vec("0.3", iris1) + "," + vec("NaN", iris2) + "]",
		"model_version:modelgate_sli_errors:ratio_rate5m":             "[" + vec("0", iris1) + "]",
	}, `[{"labels":{"alertname":"ModelgateErrorBudgetBurnFast","severity":"page","model":"iris"},"annotations":{"summary":"iris version 1 answers 5xx at 2%"},"state":"firing"},
	     {"labels":{"alertname":"ModelgateLatencyBudgetBurnSlow","severity":"ticket"},"annotations":{"summary":"pending only"},"state":"pending"}]`)
	body := get(t, status.New(status.Config{PrometheusURL: prom.URL + "/", Now: clock}))

	for _, want := range []string{
		`id="generated">2026-12-03T09:00:00Z<`,
		// p95 12.3 ms is inside 200 ms; errors 0.4 % breach 0.1 %; availability 100 %.
		`id="latency" data-verdict="ok"`, `data-value="0.0123">12.3 ms<`,
		`id="errors" data-verdict="breach"`, `data-value="0.004">0.400 %<`,
		`id="availability" data-verdict="ok"`, `data-value="1">100.000 %<`,
		`id="rate" data-value="12.5">12.5 req/s<`,
		`id="cache-hit" data-value="0.25">25.000 %<`,
		`data-model="iris" data-version="1"`, `class="share" data-value="0.25">25.000 %<`, `class="p95" data-value="0.3">300.0 ms<`,
		`data-model="iris" data-version="2"`, `class="share" data-value="0.75">75.000 %<`,
		`data-alert="ModelgateErrorBudgetBurnFast"`, `iris version 1 answers 5xx at 2%`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "ModelgateLatencyBudgetBurnSlow", "pending alerts are not firing")
	require.NotContains(t, body, `id="problems"`)
	// iris 2's p95 over no requests (NaN) and its missing error ratio are no data.
	i := strings.Index(body, `data-version="2"`)
	require.Contains(t, body[i:], `class="p95" data-value="no data">no data<`)
}

func TestPage_saysWhenItHasNoNumbers(t *testing.T) {
	t.Parallel()
	t.Run("no Prometheus configured", func(t *testing.T) {
		t.Parallel()
		body := get(t, status.New(status.Config{Now: clock}))
		require.Contains(t, body, "no Prometheus configured")
		require.Contains(t, body, `id="latency" data-verdict="nodata"`)
	})
	t.Run("Prometheus unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		body := get(t, status.New(status.Config{PrometheusURL: url, Now: clock}))
		require.Contains(t, body, `id="problems"`)
		require.Contains(t, body, "query prometheus")
		require.Contains(t, body, `id="p95" data-value="no data">no data<`)
	})
	t.Run("no traffic yet", func(t *testing.T) {
		t.Parallel()
		prom := fakePrometheus(t, map[string]string{
			"gateway:modelgate_request_duration_seconds:p95_rate5m": "[" + vec("NaN", nil) + "]",
		}, "[]")
		body := get(t, status.New(status.Config{PrometheusURL: prom.URL, Now: clock}))
		require.Contains(t, body, `id="latency" data-verdict="nodata"`)
		require.Contains(t, body, "no traffic in the last 5 minutes")
		require.Contains(t, body, `id="no-alerts">none<`)
		require.NotContains(t, body, `id="problems"`)
	})
	t.Run("Prometheus refuses a query", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		}))
		t.Cleanup(srv.Close)
		body := get(t, status.New(status.Config{PrometheusURL: srv.URL, Now: clock}))
		require.Contains(t, body, "parse error")
	})
}

func TestPage_escapesLabelValues(t *testing.T) {
	t.Parallel()
	prom := fakePrometheus(t, map[string]string{
		"model_version:modelgate_requests:rate5m": "[" + vec("1", map[string]string{"model": "<script>x</script>", "model_version": "1"}) + "]",
	}, "[]")
	body := get(t, status.New(status.Config{PrometheusURL: prom.URL, Now: clock}))
	require.NotContains(t, body, "<script>x")
	require.Contains(t, body, "&lt;script&gt;x")
}
