package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// newMeteredServer builds a server whose /metrics serves what it records,
// as the service wires it.
func newMeteredServer(t *testing.T) *Server {
	t.Helper()
	reg, err := registry.Load(catalogPath, nil)
	require.NoError(t, err)
	var p atomic.Pointer[registry.Registry]
	p.Store(reg)
	var ready atomic.Bool
	ready.Store(true)
	promReg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(promReg), otelprom.WithoutScopeInfo())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	s, err := New(Config{MaxBatchRows: 1000, MaxBodyBytes: 1 << 20, BuildVersion: "test"}, &p, &ready,
		slog.New(slog.NewTextHandler(io.Discard, nil)), mp.Meter("test"), promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
	require.NoError(t, err)
	return s
}

// series returns the sample lines of /metrics.
func series(t *testing.T, s http.Handler) []string {
	t.Helper()
	res := do(t, s, http.MethodGet, "/metrics", "", "")
	require.Equal(t, http.StatusOK, res.status)
	var out []string
	for line := range strings.SplitSeq(string(res.body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// flood sends n requests naming invented models and versions (in bodies,
// paths and the version header, some tens of KB long) and n with invented
// methods, every name distinct.
func flood(t *testing.T, s http.Handler, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		name := fmt.Sprintf("bogus-%d", i)
		if i%10 == 0 {
			name += strings.Repeat("x", 20_000)
		}
		switch i % 5 {
		case 0:
			do(t, s, http.MethodPost, "/v2/predict", "application/json", `{"model":"`+name+`","inputs":[`+irisRow+`]}`)
		case 1:
			do(t, s, http.MethodPost, "/v2/models/"+name+"/infer", "application/json", `{"inputs":[]}`)
		case 2:
			do(t, s, http.MethodGet, "/v2/models/"+name+"/versions/"+name+"/ready", "", "")
		case 3:
			do(t, s, http.MethodPost, "/v2/predict", "application/json", `{"model":"iris","inputs":[`+irisRow+`]}`, header.ModelVersion, name)
		case 4:
			do(t, s, http.MethodPost, "/v1/predict", "application/json", `{"inputs":[`+irisRow+`],"model_version":"`+name+`"}`)
		}
		do(t, s, fmt.Sprintf("BOGUS%d", i), "/v2/predict", "application/json", `{}`)
	}
}

// TestMetrics_BoundedSeries floods the server with 2,000 distinct invented
// model names and 2,000 distinct methods: /metrics gains no series from
// them, carries none of the names, and labels them unknown and _OTHER.
func TestMetrics_BoundedSeries(t *testing.T) {
	t.Parallel()
	s := newMeteredServer(t)
	res := do(t, s, http.MethodPost, "/v2/predict", "application/json", `{"model":"iris","inputs":[`+irisRow+`]}`)
	require.Equal(t, http.StatusOK, res.status)
	series(t, s) // the scrape itself is a series, from the next scrape on

	flood(t, s, 0, 1000)
	after1000 := series(t, s)
	flood(t, s, 1000, 1000)
	after2000 := series(t, s)

	require.Equal(t, len(after1000), len(after2000), "another 1,000 invented names and methods add no series")
	require.Less(t, len(after2000), 400, "the series stay few")
	text := strings.Join(after2000, "\n")
	require.NotContains(t, text, "bogus")
	require.NotContains(t, text, "BOGUS")
	for _, want := range []string{
		`model="iris",model_version="2"`,
		`http_request_method="POST",http_response_status_code="404",http_route="POST /v2/predict",model="unknown",model_version="unknown"`,
		`http_request_method="_OTHER",http_response_status_code="405",http_route="unmatched",model="unknown",model_version="unknown"`,
	} {
		require.Contains(t, text, want)
	}
}

func TestMethodLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		want   string
	}{
		{name: "keeps GET", method: http.MethodGet, want: "GET"},
		{name: "keeps POST", method: http.MethodPost, want: "POST"},
		{name: "keeps OPTIONS", method: http.MethodOptions, want: "OPTIONS"},
		{name: "keeps PATCH", method: http.MethodPatch, want: "PATCH"},
		{name: "folds an extension method", method: "PROPFIND", want: "_OTHER"},
		{name: "folds a lower-case variant", method: "get", want: "_OTHER"},
		{name: "folds a long method", method: strings.Repeat("X", 10_000), want: "_OTHER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, methodLabel(tc.method))
		})
	}
}
