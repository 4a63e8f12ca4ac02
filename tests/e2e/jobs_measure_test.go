//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// arrivals records when each job's first webhook arrived.
type arrivals struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev struct{ Data struct{ ID string } }
	_ = json.NewDecoder(r.Body).Decode(&ev)
	a.mu.Lock()
	if _, ok := a.at[ev.Data.ID]; !ok {
		a.at[ev.Data.ID] = time.Now()
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// testJobMeasures reports rows per second through the whole job path
// (submit through Envoy, queue, worker, result stored) and the webhook
// delivery latency (completed_at to arrival). It is a measurement on a
// shared machine, logged, not a pass/fail threshold.
func testJobMeasures(t *testing.T, e *env, base string, rcv *arrivals) {
	const jobs, rows = 8, 10000
	body := `{"model":"iris","inputs":` + irisRows(rows) + `,"webhook":"` + base + `/measure"}`
	start := time.Now()
	var ids []string
	for range jobs {
		ids = append(ids, e.submitJob(t, clientOther, body).ID)
	}
	completed := map[string]time.Time{}
	eventually(t, 120*time.Second, func() error {
		for _, id := range ids {
			if _, ok := completed[id]; ok {
				continue
			}
			a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + id, client: clientOther})
			var j struct {
				Status      string
				CompletedAt *time.Time `json:"completed_at"`
			}
			require.NoError(t, json.Unmarshal(a.body, &j))
			if j.Status != "succeeded" {
				return fmt.Errorf("job %s is %s", id, j.Status)
			}
			completed[id] = *j.CompletedAt
		}
		return nil
	})
	var last time.Time
	for _, c := range completed {
		if c.After(last) {
			last = c
		}
	}
	elapsed := last.Sub(start)
	eventually(t, 30*time.Second, func() error {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.at) < jobs {
			return fmt.Errorf("%d of %d webhooks", len(rcv.at), jobs)
		}
		return nil
	})
	var lat []time.Duration
	rcv.mu.Lock()
	for id, c := range completed {
		lat = append(lat, rcv.at[id].Sub(c))
	}
	rcv.mu.Unlock()
	slices.Sort(lat)
	t.Logf("job path: %d jobs x %d rows in %s = %.0f rows/s; webhook delivery latency p50 %s, max %s",
		jobs, rows, elapsed.Round(time.Millisecond), float64(jobs*rows)/elapsed.Seconds(),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}
