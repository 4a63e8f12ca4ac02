package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHandler measures the prediction handlers next to a bare
// net/http handler that decodes and encodes the same body, in the same run,
// so the figure that matters is the ratio to the floor.
func BenchmarkHandler(b *testing.B) {
	s := newTestServer(b, nil)
	for _, rows := range []int{1, 100, 1000} {
		body := `{"model":"iris","version":"2","inputs":[` + strings.TrimSuffix(strings.Repeat(irisRow+",", rows), ",") + `]}`
		b.Run(fmt.Sprintf("floor/bare-net-http/rows=%d", rows), func(b *testing.B) {
			bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v map[string]any
				raw, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(raw, &v)
				w.Header().Set("content-type", "application/json")
				_, _ = w.Write([]byte(`{"ok":true}`))
			})
			runHandler(b, bare, "/v2/predict", body, rows)
		})
		b.Run(fmt.Sprintf("v2-predict/iris/2/rows=%d", rows), func(b *testing.B) {
			runHandler(b, s, "/v2/predict", body, rows)
		})
	}
}

func runHandler(b *testing.B, h http.Handler, path, body string, rows int) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("content-type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "predictions/s")
}
