//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/internal/catalog"
)

// xdsCatalog is the catalog of the control-plane test: iris 1 and 2 share
// the stable alias 90/10, iris 3 is a shadow that gets 20 % of iris's
// prediction traffic and answers no client. versions and stable are
// replaced as the test edits the catalog.
func xdsCatalog(versions, stable string) string {
	return fmt.Sprintf(`default_model: iris
models:
  iris:
    versions: [%s]
    aliases:
      latest: "2"
      stable: %s
    shadow: {version: "3", percent: %d}
  diabetes:
    versions: ["1"]
`, versions, stable, shadowPercent)
}

const shadowPercent = 20

// copyVersion copies a model version folder, renaming its manifest's version.
func copyVersion(t *testing.T, from, to, version string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(to, 0o755))
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		require.NoError(t, err)
		if e.Name() == "manifest.json" {
			s := string(b)
			i := strings.LastIndex(s, `"version": "`)
			require.GreaterOrEqual(t, i, 0)
			j := i + len(`"version": "`)
			k := strings.Index(s[j:], `"`)
			b = []byte(s[:j] + version + s[j+k:])
		}
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o644))
	}
}

// writeCatalog replaces the catalog file at once (rename), as a deploy does.
func writeCatalog(t *testing.T, path, y string) {
	t.Helper()
	_, err := catalog.Parse([]byte(y))
	require.NoError(t, err)
	tmp := filepath.Join(filepath.Dir(path), ".catalog.yaml.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(y), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

// result is one request of the load.
type result struct {
	phase   int32
	status  int
	version string
	err     error
}

// splitLoad sends stable-alias predictions from workers goroutines, each with
// its own x-session-id, until stop is closed.
type splitLoad struct {
	e       *env
	key     string
	phase   atomic.Int32
	seq     atomic.Int64
	mu      sync.Mutex
	results []result
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// transition is the phase of requests sent while a change is on its way:
// they count for the no-errors rule, not for a split.
const transition = -1

func (l *splitLoad) run(workers int) {
	l.stop = make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				n := l.seq.Add(1)
				phase := l.phase.Load()
				status, version, err := l.predict(client, fmt.Sprintf("session-%d", n), float64(n)/1e6)
				l.mu.Lock()
				l.results = append(l.results, result{phase: phase, status: status, version: version, err: err})
				l.mu.Unlock()
			}
		}()
	}
}

func (l *splitLoad) predict(client *http.Client, session string, seed float64) (int, string, error) {
	body := fmt.Sprintf(`{"model":"iris","version":"stable","inputs":[{"sepal_length":%g,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`, 5.1+seed)
	req, err := http.NewRequest(http.MethodPost, l.e.s.URL()+"/v2/predict", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-api-key", l.key)
	req.Header.Set(header.Session, session)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get(header.ModelVersion), nil
}

// count returns the versions served in a phase, and how many requests it had.
func (l *splitLoad) count(phase int32) (map[string]int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, n := map[string]int{}, 0
	for _, r := range l.results {
		if r.phase == phase {
			m[r.version]++
			n++
		}
	}
	return m, n
}

// waitFor waits until phase has n requests.
func (l *splitLoad) waitFor(t *testing.T, phase int32, n int) {
	t.Helper()
	eventually(t, 90*time.Second, func() error {
		if _, got := l.count(phase); got < n {
			return fmt.Errorf("phase %d: %d of %d requests", phase, got, n)
		}
		return nil
	})
}

// untilServed sends requests for session until one is served by version
// and returns how long that took from since.
func (l *splitLoad) untilServed(t *testing.T, session, version string, since time.Time) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; time.Since(since) < 10*time.Second; i++ {
		status, v, err := l.predict(client, session, 0.5+float64(i)/1e6)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		if v == version {
			return time.Since(since)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("session %s never reached version %s", session, version)
	return 0
}

// sessionMovedBy finds a session the stable alias gives from under
// before and to under after (the plugin's subject: client, NUL, session).
func sessionMovedBy(t *testing.T, client, before, after, from, to string) string {
	t.Helper()
	b, err := catalog.Parse([]byte(before))
	require.NoError(t, err)
	a, err := catalog.Parse([]byte(after))
	require.NoError(t, err)
	for i := range 10000 {
		s := fmt.Sprintf("probe-%d", i)
		vb, _ := b.ResolveFor("iris", "stable", client+"\x00"+s)
		va, _ := a.ResolveFor("iris", "stable", client+"\x00"+s)
		if vb == from && va == to {
			return s
		}
	}
	t.Fatal("no probe session moves")
	return ""
}

// predictions reads an inference process's prediction counter.
func predictions(t *testing.T, port int) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	sum := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "modelgate_inference_predictions_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += int(v)
		}
	}
	return sum
}

func requireShare(t *testing.T, got map[string]int, n int, want map[string]float64) {
	t.Helper()
	for v, share := range want {
		require.InDelta(t, share, float64(got[v])/float64(n), 0.03, "version %s: %v of %d", v, got, n)
	}
	t.Logf("split over %d requests: %v (want %v)", n, got, want)
}

// TestXDS runs Envoy bootstrapped with nothing but the control plane's
// cluster and edits the catalog under load: 90/10 → 50/50, a new version
// added, the alias moved to it, then a broken catalog (refused; the last
// good configuration keeps serving). No request may fail, each split must hold
// within 3 points over 2,000 requests, every change must be served within
// a second, and the shadow must get its share without ever answering.
func TestXDS(t *testing.T) {
	cat90 := xdsCatalog(`"1", "2", "3"`, `{"1": 90, "2": 10}`)
	cat50 := xdsCatalog(`"1", "2", "3"`, `{"1": 50, "2": 50}`)
	cat4 := xdsCatalog(`"1", "2", "3", "4"`, `{"1": 50, "2": 50}`)
	catMoved := xdsCatalog(`"1", "2", "3", "4"`, `"4"`)
	x := startXDS(t, cat90)
	e := x.e

	t.Run("routes by version", func(t *testing.T) {
		for _, v := range []string{"1", "2", "3"} {
			a := e.do(t, call{path: "/v2/predict", client: clientLoad, headers: map[string]string{header.ModelVersion: v}, body: irisBody(0.01)})
			require.Equal(t, http.StatusOK, a.status, "%s", a)
			require.Equal(t, v, a.header.Get(header.ModelVersion))
		}
	})

	shadow := x.port(3) // targets: diabetes:1, iris:1, iris:2, iris:3
	shadowBefore, servedBefore := predictions(t, shadow), predictions(t, x.port(1))+predictions(t, x.port(2))
	l := &splitLoad{e: e, key: e.keys[clientLoad].Secret}
	l.phase.Store(1)
	l.run(8)
	t.Cleanup(l.end)
	const perPhase = 2000
	l.waitFor(t, 1, perPhase)

	// 90/10 → 50/50: a session that moves shows when the plugin has it.
	probe := sessionMovedBy(t, clientLoad, cat90, cat50, "1", "2")
	l.phase.Store(transition)
	changed := time.Now()
	writeCatalog(t, x.catPath, cat50)
	took50 := l.untilServed(t, probe, "2", changed)
	l.phase.Store(2)
	l.waitFor(t, 2, perPhase)

	// A new version: the control plane pushes its cluster and routes; then
	// its process starts, and the alias moves to it.
	l.phase.Store(transition)
	t4, tookCluster := x.addVersion(t, "4", cat4)
	changed = time.Now()
	writeCatalog(t, x.catPath, catMoved)
	took4 := l.untilServed(t, "any-session", "4", changed)
	l.phase.Store(3)
	l.waitFor(t, 3, 250)
	x.refuseBroken(t, strings.Replace(catMoved, `stable: "4"`, `stable: {"4": 0}`, 1))
	l.waitFor(t, 3, 500)
	l.end()

	require.Less(t, took50, time.Second, "50/50 visible")
	require.Less(t, tookCluster, time.Second, "new cluster in Envoy")
	require.Less(t, took4, time.Second, "alias moved to the new version")
	t.Logf("visible after: 50/50 %s, new cluster %s, alias moved %s", took50, tookCluster, took4)
	l.requireAllServed(t, "3")
	got, n := l.count(1)
	requireShare(t, got, n, map[string]float64{"1": 0.9, "2": 0.1})
	got, n = l.count(2)
	requireShare(t, got, n, map[string]float64{"1": 0.5, "2": 0.5})
	got, n = l.count(3)
	require.Equal(t, map[string]int{"4": n}, got, "every request after the move is served by 4")

	// The shadow's share: its process counted about shadowPercent of what
	// the serving versions counted (mirrors are sent in the background, so
	// give the last ones a moment).
	served := predictions(t, x.port(1)) + predictions(t, x.port(2)) + predictions(t, x.port(t4.Index)) - servedBefore
	var mirrored int
	eventually(t, 5*time.Second, func() error {
		mirrored = predictions(t, shadow) - shadowBefore
		if got := float64(mirrored) / float64(served); got < float64(shadowPercent)/100-0.03 || got > float64(shadowPercent)/100+0.03 {
			return fmt.Errorf("shadow got %d of %d served (%.3f)", mirrored, served, got)
		}
		return nil
	})
	t.Logf("shadow iris:3 received %d mirrored predictions for %d served (%.1f %%, want %d %%)",
		mirrored, served, 100*float64(mirrored)/float64(served), shadowPercent)
}
