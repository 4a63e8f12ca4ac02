//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/ops/inventory"
	"github.com/modelgate/modelgate/tools/stack"
)

// opsEnv is a stack with its Prometheus, supervised as make run runs it.
type opsEnv struct {
	*env
	events *events
	otlp   *otlpReceiver
}

// TestOperations runs a stack with Prometheus (as make run does) and
// tracing on, and checks what operators rely on: every metric the rules
// and dashboard read is scraped; the status page shows the SLA in a real
// browser; the model list comes from the catalog; oversized headers get a
// 431; one request's spans from all three services share a trace; and a
// process killed under load comes back while the others keep serving.
func TestOperations(t *testing.T) {
	o := startOpsEnv(t)
	t.Run("traffic reaches Prometheus", func(t *testing.T) { testScraped(t, o) })
	t.Run("every metric the rules and dashboard read exists", func(t *testing.T) { testInventory(t, o) })
	t.Run("status page in headless chromium", func(t *testing.T) { testStatusPage(t, o) })
	t.Run("model list through the gateway", func(t *testing.T) { testModelList(t, o) })
	t.Run("oversized request headers", func(t *testing.T) { testOversizedHeaders(t, o.env) })
	t.Run("one request's spans from envoy, extproc and inference share a trace", func(t *testing.T) { testTraces(t, o, o.otlp) })
	t.Run("crash survival", func(t *testing.T) { testCrashSurvival(t, o) })
}

func startOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	ctx := t.Context()
	root, err := stack.RepoRoot(".")
	require.NoError(t, err)
	runDir, err := os.MkdirTemp("", "mg-ops-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run directory kept for inspection: %s", runDir)
			return
		}
		os.RemoveAll(runDir)
	})
	out := filepath.Join(runDir, "bin")
	require.NoError(t, stack.Build(ctx, root, out))
	bins, err := stack.LookupBinaries(root, out)
	require.NoError(t, err)
	require.NotEmpty(t, bins.Prometheus, "prometheus not on PATH: run scripts/install.sh (apt-get install prometheus)")

	e := &env{root: root, bins: bins, keys: map[string]stack.Key{}, client: &http.Client{Timeout: 10 * time.Second}}
	keysFile := filepath.Join(runDir, "keys.yaml")
	for _, k := range []struct{ client, tier, models string }{
		{clientPro, "pro", "*"}, {clientLoad, "internal", "*"}, {clientQuota, "free", "*"}, {clientIrisOnly, "pro", "iris"},
	} {
		key, err := stack.CreateKey(ctx, bins.Extproc, keysFile, k.client, k.tier, k.models)
		require.NoError(t, err)
		e.keys[k.client] = key
	}
	ports := freePorts(t, len(stackTargets(t, root)))
	rcv := newOTLPReceiver(t)
	s, err := stack.Start(ctx, stack.Config{
		Root: root, RunDir: runDir, Ports: ports, Bin: bins, KeysFile: keysFile, Log: testWriter{t},
		// freePorts keeps base+8 free for it.
		PrometheusAddr: fmt.Sprintf("127.0.0.1:%d", ports.Envoy+8), PrometheusInterval: "1s",
		OTLPEndpoint: rcv.Addr(),
	})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	e.s, e.started = s, time.Now()

	o := &opsEnv{env: e, events: &events{}, otlp: rcv}
	superviseCtx, cancel := contextWithCancel(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Supervise(superviseCtx, stack.Restart{Initial: 100 * time.Millisecond}, func(ev stack.Event) {
			t.Log("supervisor: " + ev.String())
			o.events.add(ev)
		})
	}()
	// Cleanups run last-in first-out: supervision ends before Stop.
	t.Cleanup(func() { cancel(); <-done })
	return o
}

// traffic sends a mix every metric in the inventory moves with: both iris
// versions and diabetes, cache hits, a validation error, a chat completion,
// and a free key over its per-second quota.
// Each round sends iris bodies of its own: misses, then hits.
func traffic(t *testing.T, e *env, round int) {
	t.Helper()
	for i := range 6 {
		for _, v := range []string{"1", "2"} {
			a := e.do(t, call{path: "/v2/predict", client: clientPro, body: irisBody(float64(i%3) + 10*float64(round)), headers: map[string]string{"x-model-version": v}})
			require.Equal(t, http.StatusOK, a.status, "%s", a)
		}
		a := e.do(t, call{path: "/v2/predict", client: clientPro, body: diabetesBody()})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
	}
	a := e.do(t, call{path: "/v2/predict", client: clientPro, body: `{"model":"iris","inputs":[{"sepal_length":"wide"}]}`})
	require.Equal(t, http.StatusBadRequest, a.status, "%s", a)
	// Text generation: the GenAI token and time-to-first-token metrics.
	a = e.do(t, call{path: "/v1/chat/completions", client: clientPro, body: chatBody("In the beginning", `,"max_tokens":4`)})
	require.Equal(t, http.StatusOK, a.status, "%s", a)
	limited := 0
	for i := range 12 {
		if e.do(t, call{path: "/v2/predict", client: clientQuota, body: irisBody(float64(100*(round+1) + i))}).status == http.StatusTooManyRequests {
			limited++
		}
	}
	require.Positive(t, limited, "the free key's 5/s quota answered 429")
}

func testScraped(t *testing.T, o *opsEnv) {
	ctx := t.Context()
	require.NoError(t, o.s.WaitScraped(ctx))
	// Twice, scrapes apart: a counter's first sample is its baseline, so
	// a rate needs increments Prometheus saw happen.
	traffic(t, o.env, 0)
	time.Sleep(2500 * time.Millisecond)
	traffic(t, o.env, 1)
	// The recording rules see the traffic within a few evaluations.
	eventually(t, 30*time.Second, func() error {
		n, err := stack.QueryScalar(ctx, o.s.PrometheusURL(), `count(model_version:modelgate_requests:rate5m > 0)`)
		if err != nil {
			return err
		}
		if n < 3 {
			return fmt.Errorf("%v model versions with traffic, want 3", n)
		}
		return nil
	})
}

// testInventory derives the metric names from the stack's own
// Prometheus: every name metrics.txt says is scraped must be there.
func testInventory(t *testing.T, o *opsEnv) {
	entries, err := inventory.Shipped()
	require.NoError(t, err)
	names := map[string]bool{}
	eventually(t, 20*time.Second, func() error {
		resp, err := o.client.Get(o.s.PrometheusURL() + "/api/v1/label/__name__/values")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var v struct {
			Data []string `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return err
		}
		for _, n := range v.Data {
			names[n] = true
		}
		var missing []string
		for _, e := range entries {
			if e.Kind == inventory.Scraped && !names[e.Name] {
				missing = append(missing, e.Name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("listed as scraped but not in the stack's Prometheus: %v", missing)
		}
		return nil
	})
	for _, e := range entries {
		if e.Kind == inventory.Pending {
			require.False(t, names[e.Name], "%s is served now: mark it scraped in ops/prometheus/metrics.txt", e.Name)
		}
	}
}

// chromium finds Debian's chromium (scripts/install.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not on PATH: run scripts/install.sh (apt-get install chromium)")
	return ""
}

func headless(t *testing.T, args ...string) []byte {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--window-size=1200,900"}
	cmd := exec.CommandContext(t.Context(), chromium(t), append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	return out
}

var dataValue = regexp.MustCompile(`id="([a-z0-9-]+)" data-value="([^"]*)"`)

func testStatusPage(t *testing.T, o *opsEnv) {
	var dom string
	values := map[string]string{}
	// Wait for every number: the 1h availability rule needs two scrapes.
	eventually(t, 30*time.Second, func() error {
		dom = string(headless(t, "--dump-dom", o.s.StatusURL()))
		clear(values)
		for _, m := range dataValue.FindAllStringSubmatch(dom, -1) {
			values[m[1]] = m[2]
		}
		for _, id := range []string{"p95", "error-rate", "availability-value", "rate", "cache-hit"} {
			if _, err := strconv.ParseFloat(values[id], 64); err != nil {
				return fmt.Errorf("%s shows %q", id, values[id])
			}
		}
		return nil
	})
	num := func(id string) float64 {
		f, err := strconv.ParseFloat(values[id], 64)
		require.NoError(t, err)
		return f
	}
	require.Less(t, num("p95"), 0.2, "a loopback stack answers well inside 200 ms")
	require.Contains(t, dom, `id="latency" data-verdict="ok"`)
	require.Zero(t, num("error-rate"), "no 5xx was answered")
	require.Contains(t, dom, `id="errors" data-verdict="ok"`)
	require.Equal(t, 1.0, num("availability-value"))
	require.Positive(t, num("rate"))
	require.Positive(t, num("cache-hit"), "repeated bodies were served from the cache")
	require.Less(t, num("cache-hit"), 1.0)
	for _, mv := range []string{`data-model="iris" data-version="1"`, `data-model="iris" data-version="2"`, `data-model="diabetes" data-version="1"`} {
		require.Contains(t, dom, mv, "per-version traffic")
	}
	require.NotContains(t, dom, `id="problems"`)

	// The screenshot shows the page: an image of the window, not blank,
	// with the green of the verdicts that are inside the SLO.
	shot := filepath.Join(t.TempDir(), "status.png")
	headless(t, "--screenshot="+shot, o.s.StatusURL())
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 1200, 900), img.Bounds())
	colours, green := map[[3]uint32]bool{}, 0
	for y := 0; y < 900; y += 3 {
		for x := 0; x < 1200; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
			if r>>8 < 80 && g>>8 > 100 && b>>8 < 80 { // #2e7d32, the "ok" border
				green++
			}
		}
	}
	require.Greater(t, len(colours), 20, "rendered text and boxes, not a blank page")
	require.Positive(t, green, "the in-SLO verdicts are drawn green")
	if dir := os.Getenv("MODELGATE_SCREENSHOT_DIR"); dir != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(filepath.Join(dir, "status.png"), b, 0o644)
	}
}

// testModelList: GET /v2/models through Envoy lists every version with
// what the process serving it says about it, whichever process that is,
// and only the models the key may use.
func testModelList(t *testing.T, o *opsEnv) {
	type version map[string]any
	type list struct {
		Models []struct {
			Name     string    `json:"name"`
			Versions []version `json:"versions"`
		} `json:"models"`
	}
	a := o.do(t, call{method: http.MethodGet, path: "/v2/models", client: clientPro})
	require.Equal(t, http.StatusOK, a.status, "%s", a)
	require.Equal(t, "application/json", a.header.Get("content-type"))
	var gw list
	require.NoError(t, json.Unmarshal(a.body, &gw), "%s", a.body)

	// What each inference process says about the version it serves.
	direct := map[string]version{}
	for _, tg := range o.s.Targets() {
		resp, err := o.client.Get(fmt.Sprintf("http://127.0.0.1:%d/v2/models", o.s.Ports().Inference(tg)))
		require.NoError(t, err)
		var l list
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
		resp.Body.Close()
		for _, m := range l.Models {
			for _, v := range m.Versions {
				if v["served"] == true {
					direct[m.Name+"/"+v["version"].(string)] = v
				}
			}
		}
	}
	require.Len(t, direct, len(o.s.Targets()))
	seen := 0
	for _, m := range gw.Models {
		for _, v := range m.Versions {
			k := m.Name + "/" + v["version"].(string)
			want, ok := direct[k]
			require.True(t, ok, "%s is listed by the gateway but served by no process", k)
			require.Equal(t, want, v, "%s: the gateway lists what its server says", k)
			if m.Name != llmModel {
				require.NotEmpty(t, v["inputs"], "%s shows its inputs", k)
			}
			seen++
		}
	}
	require.Equal(t, len(direct), seen, "every version is listed")

	a = o.do(t, call{method: http.MethodGet, path: "/v2/models", client: clientIrisOnly})
	require.Equal(t, http.StatusOK, a.status, "%s", a)
	var scoped list
	require.NoError(t, json.Unmarshal(a.body, &scoped))
	require.Len(t, scoped.Models, 1)
	require.Equal(t, "iris", scoped.Models[0].Name, "a key limited to iris sees iris only")
}
