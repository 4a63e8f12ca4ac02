//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	ratelimitconfig "github.com/modelgate/modelgate/ratelimit-config"
	"github.com/modelgate/modelgate/tools/stack"
)

// env is the running stack and the keys the suite issued.
type env struct {
	s       *stack.Stack
	root    string
	bins    stack.Binaries
	keys    map[string]stack.Key
	rlFile  string // the ratelimit config copy the service watches
	client  *http.Client
	started time.Time
	// opts is the Envoy filter chain under test.
	opts bootstrap.Options
}

// Clients of the suite. Each test uses its own so quotas and caches do not
// interfere.
const (
	clientPro      = "e2e-pro"
	clientOther    = "e2e-other"
	clientQuota    = "e2e-quota"
	clientQuota2   = "e2e-quota-neighbour"
	clientIrisOnly = "e2e-iris-only"
	clientRevoked  = "e2e-revoked"
	clientExpired  = "e2e-expired"
	clientLoad     = "e2e-load"
	clientFaults   = "e2e-faults"
	clientTokens   = "e2e-tokens"
	clientCut      = "e2e-cut"
)

// quotaPerHour is the e2e quota client's request limit, per hour so that a
// window boundary cannot fall inside the test.
const quotaPerHour = 4

// startEnv starts a stack with the filter chain opts; tweaks change its
// configuration before it starts (another catalog, the control plane).
func startEnv(t *testing.T, opts bootstrap.Options, tweaks ...func(*stack.Config)) *env {
	t.Helper()
	ctx := t.Context()
	root, err := stack.RepoRoot(".")
	require.NoError(t, err)
	runDir, err := os.MkdirTemp("", "mg-e2e-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run directory kept for inspection: %s", runDir)
			return
		}
		os.RemoveAll(runDir)
	})

	out := filepath.Join(runDir, "bin")
	t.Log("building extproc, inference and ratelimit")
	require.NoError(t, stack.Build(ctx, root, out))
	bins, err := stack.LookupBinaries(root, out)
	require.NoError(t, err)

	e := &env{root: root, bins: bins, keys: map[string]stack.Key{}, client: &http.Client{Timeout: 10 * time.Second}, opts: opts}
	keysFile := filepath.Join(runDir, "keys.yaml")
	issue := func(client, tier, models string, extra ...string) {
		k, err := stack.CreateKey(ctx, bins.Extproc, keysFile, client, tier, models, extra...)
		require.NoError(t, err)
		e.keys[client] = k
	}
	issue(clientPro, "pro", "*")
	issue(clientOther, "pro", "*")
	issue(clientQuota, "free", "*")
	issue(clientQuota2, "free", "*")
	issue(clientIrisOnly, "pro", "iris")
	issue(clientRevoked, "pro", "*")
	issue(clientExpired, "pro", "*", "--expires", "1s")
	issue(clientLoad, "internal", "*")
	issue(clientFaults, "pro", "*")
	issue(clientTokens, "free", "*")
	issue(clientCut, "pro", "*")
	require.NoError(t, stack.RevokeKey(ctx, bins.Extproc, keysFile, e.keys[clientRevoked].ID))

	// The ratelimit service watches a copy of ratelimit-config/config, with
	// one test override, so the suite can change a limit while it runs.
	rlRoot := filepath.Join(runDir, "rl")
	rlDir := filepath.Join(rlRoot, "ratelimit", "config")
	require.NoError(t, os.MkdirAll(rlDir, 0o755))
	e.rlFile = filepath.Join(rlDir, "modelgate.yaml")
	e.writeQuota(t, quotaPerHour)

	ports := freePorts(t, len(stackTargets(t, root)))
	cfg := stack.Config{
		Root: root, RunDir: runDir, Ports: ports, Bin: bins, KeysFile: keysFile,
		RateLimitRoot: rlRoot, RateLimitSubdir: "ratelimit", Log: testWriter{t}, Options: opts,
	}
	for _, tw := range tweaks {
		tw(&cfg)
	}
	s, err := stack.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	e.s = s
	e.started = time.Now()
	return e
}

func stackTargets(t *testing.T, root string) []bootstrap.Target {
	c := loadCatalog(t, root)
	return bootstrap.Targets(c)
}

// writeQuota writes the shipped ratelimit config plus overrides for the
// quota clients: perHour requests an hour and no per-second limit; and for
// the token client tokensPerHour tokens an hour and no per-second limit.
func (e *env) writeQuota(t *testing.T, perHour int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, ratelimitconfig.Dir, "modelgate.yaml"))
	require.NoError(t, err)
	var root map[string]any
	require.NoError(t, yaml.Unmarshal(b, &root))
	for _, d := range root["descriptors"].([]any) {
		quota := d.(map[string]any)
		for _, tier := range quota["descriptors"].([]any) {
			tm := tier.(map[string]any)
			if tm["value"] != "free" {
				continue
			}
			var limit map[string]any
			clients := []string{clientQuota, clientQuota2}
			switch quota["value"] {
			case "client_minute":
				limit = map[string]any{"unit": "hour", "requests_per_unit": perHour}
			case "client_second":
				limit = map[string]any{"unlimited": true}
				clients = append(clients, clientTokens)
			case "tokens_minute":
				limit = map[string]any{"unit": "hour", "requests_per_unit": tokensPerHour}
				clients = []string{clientTokens}
			default:
				continue
			}
			for _, c := range clients {
				tm["descriptors"] = append(tm["descriptors"].([]any), map[string]any{"key": "client", "value": c, "rate_limit": limit})
			}
		}
	}
	y, err := yaml.Marshal(root)
	require.NoError(t, err)
	// Validate with the service's own loader before the service sees it.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modelgate.yaml"), y, 0o600))
	_, err = ratelimitconfig.Load(dir)
	require.NoError(t, err)
	// Write to a temp file and rename: the service never reads half a file.
	tmp := filepath.Join(filepath.Dir(e.rlFile), ".modelgate.yaml.tmp")
	require.NoError(t, os.WriteFile(tmp, y, 0o644))
	require.NoError(t, os.Rename(tmp, e.rlFile))
}

// freePorts finds a block of free loopback ports for one stack.
func freePorts(t *testing.T, targets int) bootstrap.Ports {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		base := 20000 + rand.IntN(40000)
		n := 10 + targets
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return bootstrap.Ports{
				Envoy: base, EnvoyAdmin: base + 1, ExtprocGRPC: base + 2, ExtprocAdmin: base + 3,
				RateLimitGRPC: base + 4, RateLimitHTTP: base + 5, RateLimitDebug: base + 6, RateLimitMetrics: base + 7,
				InferenceBase: base + 10,
			}
		}
	}
	t.Fatal("no free block of ports")
	return bootstrap.Ports{}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// call is one request through Envoy.
type call struct {
	method  string
	path    string
	client  string // issues x-api-key of this client; "" sends none
	headers map[string]string
	body    string
}

// answer is what came back.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) String() string {
	return fmt.Sprintf("%d %v %s", a.status, a.header, a.body)
}

func (e *env) do(t *testing.T, c call) answer {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, e.s.URL()+c.path, body)
	require.NoError(t, err)
	if c.body != "" {
		req.Header.Set("content-type", "application/json")
	}
	if c.client != "" {
		k, ok := e.keys[c.client]
		require.True(t, ok, "no key for client %s", c.client)
		req.Header.Set("x-api-key", k.Secret)
	}
	for k, v := range c.headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// requireProblem asserts an RFC 9457 answer with the status and type.
func requireProblem(t *testing.T, a answer, status int, typ string) problem.Problem {
	t.Helper()
	require.Equal(t, status, a.status, "%s", a)
	require.Equal(t, "application/problem+json", a.header.Get("content-type"), "%s", a)
	var p problem.Problem
	require.NoError(t, json.Unmarshal(a.body, &p), "%s", a.body)
	require.Equal(t, status, p.Status, "%s", a.body)
	if typ != "" {
		require.Equal(t, typ, p.Type, "%s", a.body)
	}
	return p
}

// irisBody is a valid /v2/predict body for iris; seed makes it a distinct
// cache key.
func irisBody(seed float64) string {
	return fmt.Sprintf(`{"model":"iris","inputs":[{"sepal_length":%g,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`, 5.1+seed)
}

func v1Body(seed float64) string {
	return fmt.Sprintf(`{"inputs":[{"sepal_length":%g,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`, 5.1+seed)
}

func diabetesBody() string {
	return `{"model":"diabetes","inputs":[{"age":0.038,"sex":0.05,"bmi":0.061,"bp":0.021,"s1":-0.044,"s2":-0.034,"s3":-0.043,"s4":-0.002,"s5":0.019,"s6":-0.017}]}`
}

// envoyStat returns the sum of the Envoy counters whose name ends in suffix.
func (e *env) envoyStat(t *testing.T, suffix string) int {
	t.Helper()
	resp, err := e.client.Get(e.s.AdminURL() + "/stats?filter=" + suffix + "$")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok || !strings.HasSuffix(name, suffix) {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		sum += n
	}
	return sum
}

// quotaFailOpen counts the requests served without a quota answer: the
// plugin's counter in the default chain, Envoy's ratelimit filter's in the
// ext_authz chain.
func (e *env) quotaFailOpen(t *testing.T) int {
	t.Helper()
	if e.opts.ExtAuthz {
		return e.envoyStat(t, "ratelimit.failure_mode_allowed")
	}
	resp, err := e.client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", e.s.Ports().ExtprocAdmin))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "modelgate_quota_checks_total{") && strings.Contains(line, `result="error"`) {
			f := strings.Fields(line)
			n, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return int(n)
		}
	}
	return 0
}

// eventually retries f until it passes or the timeout ends.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within %s: %v", timeout, err)
}

// predictionsOf returns the predictions member of a JSON answer.
func predictionsOf(t *testing.T, b []byte) string {
	t.Helper()
	var v struct {
		Predictions json.RawMessage `json:"predictions"`
	}
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	require.NotEmpty(t, v.Predictions, "%s", b)
	return string(bytes.TrimSpace(v.Predictions))
}

var _ = context.Background
