package loadgen

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResult_Percentile(t *testing.T) {
	t.Parallel()
	r := &Result{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, r.Percentile(50))
	require.Equal(t, 95*time.Millisecond, r.Percentile(95))
	require.Equal(t, 100*time.Millisecond, r.Percentile(100))
	require.Equal(t, time.Duration(0), (&Result{}).Percentile(50))
}

func TestRun_countsStatusesAndRequests(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "nope", http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	res, err := Run(t.Context(), srv.Client(), Config{Requests: 100, Concurrency: 8, Warmup: 10}, func(i int) (*http.Request, error) {
		path := "/ok"
		if i%10 == 0 {
			path = "/bad"
		}
		return http.NewRequest(http.MethodGet, srv.URL+path, nil)
	})
	require.NoError(t, err)
	require.Equal(t, 100, res.Requests)
	require.Len(t, res.Latencies, 100)
	require.Equal(t, 90, res.Status[200])
	require.Equal(t, 10, res.Status[429])
	require.Equal(t, "nope", res.Bodies[429])
	require.Zero(t, res.Errors)
}
