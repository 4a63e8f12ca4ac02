//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/tools/stack"
)

// scriptedReceiver answers each path with the next status of its script
// (the last repeats; 204 when there is none) and keeps the deliveries.
type scriptedReceiver struct {
	mu      sync.Mutex
	scripts map[string][]int
	got     map[string][]delivery
}

func newScriptedReceiver(t *testing.T, scripts map[string][]int) (*scriptedReceiver, string) {
	r := &scriptedReceiver{scripts: scripts, got: map[string][]delivery{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *scriptedReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	p := req.URL.Path
	r.got[p] = append(r.got[p], delivery{header: req.Header.Clone(), body: b})
	status := http.StatusNoContent
	if s := r.scripts[p]; len(s) > 0 {
		status = s[min(len(r.got[p]), len(s))-1]
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *scriptedReceiver) deliveries(path string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got[path]...)
}

func (e *env) submitJob(t *testing.T, client, body string) jobObject {
	t.Helper()
	a := e.do(t, call{path: "/v2/jobs", client: client, body: body})
	require.Equal(t, http.StatusAccepted, a.status, "%s", a)
	return decodeJobObject(t, a)
}

func (e *env) waitJob(t *testing.T, client, id, status string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + id, client: client})
		if a.status != http.StatusOK {
			return fmt.Errorf("%s", a)
		}
		if got := decodeJobObject(t, a).Status; got != status {
			return fmt.Errorf("job %s is %s", id, got)
		}
		return nil
	})
}

func irisRows(n int) string {
	row := `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`
	return "[" + strings.TrimSuffix(strings.Repeat(row+",", n), ",") + "]"
}

// testJobFaults: a receiver that fails then recovers, one that asks to be
// disabled, the jobs Redis restarted, a worker killed with jobs in hand.
func testJobFaults(t *testing.T, e *env) {
	rcv, base := newScriptedReceiver(t, map[string][]int{"/flaky": {503, 204}, "/gone": {410}})
	job := func(path string, rows int) string {
		return `{"model":"iris","inputs":` + irisRows(rows) + `,"webhook":"` + base + path + `"}`
	}
	t.Run("a failing receiver is retried with the same webhook-id", func(t *testing.T) {
		j := e.submitJob(t, clientPro, job("/flaky", 1))
		eventually(t, 20*time.Second, func() error {
			if n := len(rcv.deliveries("/flaky")); n < 2 {
				return fmt.Errorf("%d deliveries", n)
			}
			return nil
		})
		ds := rcv.deliveries("/flaky")
		require.Equal(t, ds[0].header.Get("webhook-id"), ds[1].header.Get("webhook-id"))
		a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + j.ID + "/deliveries", client: clientPro})
		require.Contains(t, string(a.body), `"outcome":"retrying"`)
		require.Contains(t, string(a.body), `"outcome":"succeeded"`)
	})
	t.Run("410 disables the endpoint", func(t *testing.T) {
		first := e.submitJob(t, clientPro, job("/gone", 1))
		e.waitJob(t, clientPro, first.ID, "succeeded", 20*time.Second)
		eventually(t, 10*time.Second, func() error {
			if len(rcv.deliveries("/gone")) == 0 {
				return fmt.Errorf("no delivery")
			}
			return nil
		})
		second := e.submitJob(t, clientPro, job("/gone", 1))
		eventually(t, 20*time.Second, func() error {
			a := e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + second.ID + "/deliveries", client: clientPro})
			if !strings.Contains(string(a.body), `"error":"disabled"`) {
				return fmt.Errorf("%s", a.body)
			}
			return nil
		})
		require.Len(t, rcv.deliveries("/gone"), 1, "nothing is sent to a disabled endpoint")
	})
	t.Run("the jobs Redis restarts without losing a job", func(t *testing.T) {
		j := e.submitJob(t, clientPro, job("/after-restart", 1))
		e.waitJob(t, clientPro, j.ID, "succeeded", 20*time.Second)
		require.NoError(t, e.s.StopProc(stack.JobsRedis, 5*time.Second))
		require.NoError(t, e.s.StartProc(t.Context(), stack.JobsRedis))
		e.waitJob(t, clientPro, j.ID, "succeeded", 20*time.Second)
		next := e.submitJob(t, clientPro, job("/after-restart", 1))
		e.waitJob(t, clientPro, next.ID, "succeeded", 30*time.Second)
	})
	t.Run("a worker killed with jobs in hand: each finishes, announced under one webhook-id", func(t *testing.T) {
		var iris2 bootstrap.Target
		for _, tg := range e.s.Targets() {
			if tg.Serve() == "iris:2" {
				iris2 = tg
			}
		}
		// The kill lands while a job runs: a long one (100,000 rows) is
		// watched closely; once it runs, twelve more are queued behind it
		// at once and the worker is killed. The long job must then finish
		// after the kill: the restarted worker took it over.
		long := e.submitJob(t, clientOther, job("/crash", 100000)).ID
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := decodeJobObject(t, e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + long, client: clientOther})).Status
			if got == "running" {
				break
			}
			require.Equal(t, "queued", got, "the long job must still be in hand when the worker dies")
			require.True(t, time.Now().Before(deadline), "the long job never started")
			time.Sleep(5 * time.Millisecond)
		}
		small := make([]string, 12)
		var wg sync.WaitGroup
		for i := range small {
			wg.Go(func() { small[i] = e.submitJob(t, clientOther, job("/crash", 8000)).ID })
		}
		wg.Wait()
		ids := append([]string{long}, small...)
		killedAt := time.Now()
		require.NoError(t, e.s.KillProc(stack.InferenceName(iris2)))
		require.NoError(t, e.s.StartProc(t.Context(), stack.InferenceName(iris2)))
		for _, id := range ids {
			e.waitJob(t, clientOther, id, "succeeded", 60*time.Second)
		}
		done := decodeJobObject(t, e.do(t, call{method: http.MethodGet, path: "/v2/jobs/" + long, client: clientOther}))
		require.NotNil(t, done.CompletedAt)
		require.True(t, done.CompletedAt.After(killedAt), "the long job completed at %s, before the kill at %s: it was not in hand", done.CompletedAt, killedAt)
		eventually(t, 90*time.Second, func() error {
			byJob := map[string]map[string]bool{}
			for _, d := range rcv.deliveries("/crash") {
				var ev struct{ Data struct{ ID string } }
				if err := json.Unmarshal(d.body, &ev); err != nil {
					return err
				}
				if byJob[ev.Data.ID] == nil {
					byJob[ev.Data.ID] = map[string]bool{}
				}
				byJob[ev.Data.ID][d.header.Get("webhook-id")] = true
			}
			for _, id := range ids {
				if len(byJob[id]) != 1 {
					return fmt.Errorf("job %s announced under %d webhook-ids", id, len(byJob[id]))
				}
			}
			return nil
		})
	})
}
