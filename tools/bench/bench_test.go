package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseWrkResult(t *testing.T) {
	t.Parallel()
	out := "Running 1s test @ http://127.0.0.1/v2/predict\n  Requests/sec: 1\n" +
		"wrk_result requests=900 duration_us=1500000 connect=0 read=1 write=0 status=2 timeout=3 " +
		"p50_us=1000 p95_us=2000 p99_us=3000 max_us=9000 issued=450\n"
	r, err := parseWrkResult(out, 10, 2)
	require.NoError(t, err)
	require.Equal(t, int64(900), r.Requests)
	require.Equal(t, 1500*time.Millisecond, r.Duration)
	require.InDelta(t, 600, r.RPS(), 1e-9)
	require.Equal(t, int64(6), r.Errors())
	require.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 9 * time.Millisecond},
		[]time.Duration{r.P50, r.P95, r.P99, r.Max})
	require.Equal(t, int64(10+451*2), r.NextBase)

	for name, bad := range map[string]string{
		"no result line":   "Running 1s test\n",
		"missing field":    "wrk_result requests=1 duration_us=1\n",
		"not a number":     "wrk_result requests=x\n",
		"nothing finished": "wrk_result requests=0 duration_us=0 connect=5 read=0 write=0 status=0 timeout=0 p50_us=0 p95_us=0 p99_us=0 max_us=0 issued=0\n",
	} {
		_, err := parseWrkResult(bad, 0, 1)
		require.Error(t, err, name)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	c, err := parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, []int{16, 64}, c.conns)
	require.Equal(t, 2, c.envoyConcurrency)
	var names []string
	for _, sc := range c.run {
		names = append(names, sc.name)
	}
	require.Equal(t, []string{
		"seed-asyncio/hit", "seed-asyncio/miss", "seed-uvloop-2w/hit", "seed-uvloop-2w/miss",
		"floor", "hit", "miss", "miss-fullfill", "hit-limited", "miss-limited",
		"hit-extauthz", "miss-extauthz", "hit-extauthz-limited", "miss-extauthz-limited",
	}, names)

	c, err = parseFlags([]string{"-c", "1,64", "-scenarios", "miss-1rl,floor", "-d", "3s", "-envoy-concurrency", "1"})
	require.NoError(t, err)
	require.Equal(t, []int{1, 64}, c.conns)
	require.Equal(t, 1, c.envoyConcurrency)
	require.Len(t, c.run, 2)
	require.Equal(t, "floor", c.run[0].name, "scenarios run in the fixed order")
	require.Equal(t, 3*time.Second, c.duration)

	for _, sc := range scenarios {
		if sc.opts.SingleRateLimitStage {
			require.True(t, sc.opts.ExtAuthz, "%s: SingleRateLimitStage shapes only the ext_authz chain", sc.name)
		}
	}

	for _, args := range [][]string{{"-c", "16,x"}, {"-d", "1500ms"}, {"-scenarios", "nope"}, {"-t", "0"}, {"-envoy-concurrency", "0"}} {
		_, err := parseFlags(args)
		require.Error(t, err, args)
	}
}

func TestSnapshot_countsChildren(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	// A parent that waits on a child, as uvicorn's master does its workers.
	cmd := exec.Command(sh, "-c", "sleep 30 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	g := []group{{name: "sh", column: colSeed, pid: cmd.Process.Pid}}
	var snap cpuSnapshot
	require.Eventually(t, func() bool {
		snap, err = snapshot(g)
		return err == nil && snap.processCount("sh") == 2
	}, 10*time.Second, 10*time.Millisecond, "the child shows up in the parent's tree")
	d := cpuDelta(snap, snap)
	require.Zero(t, d["sh"])

	_, err = snapshot([]group{{name: "gone", pid: 1 << 30}})
	require.Error(t, err)
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	// A comm with spaces and a ')' of its own; utime 7, stime 5.
	line := "4242 (uvicorn (x) y) S 17 4242 4242 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 3 0 1 2 3\n"
	st, err := parseStat([]byte(line))
	require.NoError(t, err)
	require.Equal(t, procStat{ppid: 17, ticks: 12}, st)
	_, err = parseStat([]byte("4242 (short) S 1 2\n"))
	require.Error(t, err)

	st, err = readStat(os.Getpid())
	require.NoError(t, err)
	require.Equal(t, os.Getppid(), st.ppid)
	require.GreaterOrEqual(t, st.ticks, int64(0))
}

// TestPredictLua runs the real script under wrk (when installed) against
// a recording server: miss bodies are what predictBody builds, all
// distinct, and start at the base; every header arrives.
func TestPredictLua(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed (make bench-deps)")
	}
	var (
		mu     sync.Mutex
		bodies = map[string]int{}
		bad    []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[string(b)]++
		if r.Method != http.MethodPost || r.URL.Path != "/v2/predict" || r.Header.Get("x-api-key") != "k" ||
			r.Header.Get("content-type") != "application/json" {
			bad = append(bad, r.Method+" "+r.URL.Path)
		}
		mu.Unlock()
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	w := wrkRun{
		bin: wrk, script: filepath.Join("wrk", "predict.lua"), url: srv.URL + "/v2/predict",
		threads: 2, conns: 4, duration: time.Second, miss: true, base: 1000, headers: []string{"x-api-key=k"},
	}
	r, err := w.run(t.Context())
	require.NoError(t, err)
	require.Zero(t, r.Errors())
	mu.Lock()
	require.Empty(t, bad)
	require.GreaterOrEqual(t, int64(len(bodies)), r.Requests)
	for b, n := range bodies {
		require.Equal(t, 1, n, "body sent twice: %s", b)
	}
	// wrk checks thread 0's first request (1000) without sending it.
	require.NotContains(t, bodies, string(predictBody(1000)))
	require.Contains(t, bodies, string(predictBody(1001)), "thread 1's first")
	require.Contains(t, bodies, string(predictBody(1002)), "thread 0's first sent")
	valid := map[string]bool{}
	for i := w.base; i < r.NextBase; i++ {
		valid[string(predictBody(i))] = true
	}
	for b := range bodies {
		require.True(t, valid[b], "body outside [base, NextBase): %s", b)
	}

	clear(bodies)
	mu.Unlock()

	w.miss = false
	_, err = w.run(t.Context())
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 1)
	require.Contains(t, bodies, string(predictBody(0)))
}
