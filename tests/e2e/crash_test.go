//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/stack"
)

// events collects what the supervisor reported.
type events struct {
	mu  sync.Mutex
	all []stack.Event
}

func (e *events) add(ev stack.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(name string, k stack.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Proc == name && ev.Kind == k {
			n++
		}
	}
	return n
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

// load sends requests for the given versions until stopped and counts the
// answers by version and status.
type load struct {
	e       *env
	stop    chan struct{}
	wg      sync.WaitGroup
	seq     atomic.Int64
	mu      sync.Mutex
	answers map[string]map[int]int // "model/version" → status → count
}

func startLoad(t *testing.T, e *env, versions ...[2]string) *load {
	l := &load{e: e, stop: make(chan struct{}), answers: map[string]map[int]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, mv := range versions {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				// Distinct bodies: every request reaches the model server.
				n := float64(l.seq.Add(1)) / 1000
				body := irisBody(n)
				if mv[0] == "diabetes" {
					body = strings.Replace(diabetesBody(), `"age":0.038`, fmt.Sprintf(`"age":%g`, 0.038+n), 1)
				}
				req, _ := http.NewRequest(http.MethodPost, e.s.URL()+"/v2/predict", strings.NewReader(body))
				req.Header.Set("content-type", "application/json")
				req.Header.Set("x-api-key", e.keys[clientLoad].Secret)
				req.Header.Set("x-model-version", mv[1])
				status := 0 // no answer at all
				if resp, err := client.Do(req); err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				l.mu.Lock()
				k := mv[0] + "/" + mv[1]
				if l.answers[k] == nil {
					l.answers[k] = map[int]int{}
				}
				l.answers[k][status]++
				l.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	t.Cleanup(l.end)
	return l
}

func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *load) result() map[string]map[int]int {
	l.end()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answers
}

// killAndWait kills one process with SIGKILL from outside, as a crash or
// the OOM killer would, and waits for the supervisor to bring it back.
func (o *opsEnv) killAndWait(t *testing.T, name string) {
	t.Helper()
	pr := o.s.Proc(name)
	pid := pr.Pid()
	require.Positive(t, pid, "%s runs", name)
	before := o.events.count(name, stack.Restarted)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	eventually(t, 30*time.Second, func() error {
		if o.events.count(name, stack.Restarted) == before {
			return fmt.Errorf("%s not restarted yet", name)
		}
		return nil
	})
	require.NotEqual(t, pid, pr.Pid())
	require.Positive(t, o.events.count(name, stack.Died))
}

// requireServes waits until a prediction of model/version succeeds.
func (o *opsEnv) requireServes(t *testing.T, model, version string) {
	t.Helper()
	body := irisBody(0.5)
	if model == "diabetes" {
		body = diabetesBody()
	}
	eventually(t, 15*time.Second, func() error {
		a := o.do(t, call{path: "/v2/predict", client: clientPro, body: body, headers: map[string]string{"x-model-version": version}})
		if a.status != http.StatusOK {
			return fmt.Errorf("%s %s: %s", model, version, a)
		}
		return nil
	})
}

func testCrashSurvival(t *testing.T, o *opsEnv) {
	iris1, iris2, diabetes1 := [2]string{"iris", "1"}, [2]string{"iris", "2"}, [2]string{"diabetes", "1"}

	t.Run("a killed inference process comes back; the other versions never stop answering", func(t *testing.T) {
		l := startLoad(t, o.env, iris1, diabetes1)
		time.Sleep(300 * time.Millisecond)
		o.killAndWait(t, "inference-iris-2")
		time.Sleep(300 * time.Millisecond)
		got := l.result()
		for _, k := range []string{"iris/1", "diabetes/1"} {
			require.Positive(t, got[k][http.StatusOK], "%s answered under load: %v", k, got)
			require.Len(t, got[k], 1, "%s answered only 200 while iris 2 was down: %v", k, got[k])
		}
		o.requireServes(t, "iris", "2")
	})

	// Quotas fail open: with the ratelimit service or its Redis gone, every
	// request is still served, and both come back.
	for _, name := range []string{stack.RateLimit, stack.Redis} {
		t.Run("a killed "+name+" comes back; requests are served meanwhile", func(t *testing.T) {
			l := startLoad(t, o.env, iris1, iris2, diabetes1)
			time.Sleep(300 * time.Millisecond)
			o.killAndWait(t, name)
			time.Sleep(300 * time.Millisecond)
			got := l.result()
			for k, statuses := range got {
				require.Positive(t, statuses[http.StatusOK], "%s: %v", k, got)
				require.Len(t, statuses, 1, "%s answered only 200 (quotas fail open): %v", k, statuses)
			}
		})
	}

	// The plugin fails closed and Envoy is the front door: while either is
	// down requests fail; each comes back by itself and serves every version.
	for _, name := range []string{stack.Extproc, stack.Envoy} {
		t.Run("a killed "+name+" comes back and serves every version", func(t *testing.T) {
			o.killAndWait(t, name)
			for _, mv := range [][2]string{iris1, iris2, diabetes1} {
				o.requireServes(t, mv[0], mv[1])
			}
		})
	}

	t.Run("a killed prometheus comes back and scrapes every process again", func(t *testing.T) {
		o.killAndWait(t, stack.Prometheus)
		require.NoError(t, o.s.WaitScraped(t.Context()))
	})

	t.Run("the supervisor gave up on nothing", func(t *testing.T) {
		for _, name := range []string{"inference-iris-2", stack.RateLimit, stack.Redis, stack.Extproc, stack.Envoy, stack.Prometheus} {
			require.Zero(t, o.events.count(name, stack.GaveUp), name)
		}
	})
}
