package stack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

func TestKillStale_stopsRecordedProcessesOnly(t *testing.T) {
	t.Parallel()
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	real, err := filepath.EvalSymlinks(sleep)
	require.NoError(t, err)
	start := func() *exec.Cmd {
		c := exec.Command(sleep, "60")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, c.Start())
		t.Cleanup(func() { _ = c.Process.Kill() })
		return c
	}
	stale, other := start(), start()
	dir := t.TempDir()
	write := func(name string, pid int, exe string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".pid"), fmt.Appendf(nil, "%d %s\n", pid, exe), 0o600))
	}
	write("stale", stale.Process.Pid, real)
	// A recycled pid: the recorded executable is not what runs there now.
	write("recycled", other.Process.Pid, "/usr/bin/not-what-runs")

	// Reap the child as soon as it dies, as init does for a real leftover.
	done := make(chan error, 1)
	go func() { done <- stale.Wait() }()
	killed, err := KillStale(dir)
	require.NoError(t, err)
	require.Len(t, killed, 1)
	require.Contains(t, killed[0], "stale")

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stale process still running")
	}
	require.NoError(t, syscall.Kill(other.Process.Pid, 0), "the unrelated process must survive")
	_ = other.Process.Kill()
	_ = other.Wait()
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "pid files are consumed")
}

func TestCheckPorts_reportsPortsInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	s := &Stack{cfg: Config{Ports: bootstrap.Ports{
		Envoy: busy, EnvoyAdmin: busy + 1, ExtprocGRPC: busy + 2, ExtprocAdmin: busy + 3,
		RateLimitGRPC: busy + 4, RateLimitHTTP: busy + 5, RateLimitDebug: busy + 6, RateLimitMetrics: busy + 7,
		InferenceBase: busy + 10,
	}}, targets: []bootstrap.Target{{Model: "iris", Version: "1", Index: 0}}}
	err = s.checkPorts()
	require.ErrorContains(t, err, strconv.Itoa(busy)+" (envoy)")
}

func TestCheckPorts_rejectsSharedPorts(t *testing.T) {
	t.Parallel()
	p := bootstrap.DefaultPorts()
	p.RateLimitMetrics = p.RateLimitDebug
	s := &Stack{cfg: Config{Ports: p}}
	require.ErrorContains(t, s.checkPorts(), "two services share a port")
}

func TestConfig_envoyConcurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  int
		want string
	}{
		{name: "defaults to two workers", set: 0, want: "2"},
		{name: "passes one worker through", set: 1, want: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Root: t.TempDir(), EnvoyConcurrency: tc.set}
			require.NoError(t, cfg.defaults())
			s := &Stack{cfg: cfg, procs: map[string]*Proc{}}
			s.define()
			args := s.Proc(Envoy).args
			i := slices.Index(args, "--concurrency")
			require.GreaterOrEqual(t, i, 0, "envoy args %v", args)
			require.Equal(t, tc.want, args[i+1])
		})
	}
	cfg := Config{Root: t.TempDir(), EnvoyConcurrency: -1}
	require.ErrorContains(t, cfg.defaults(), "EnvoyConcurrency")
}

func TestDialOK_waitsForTheListener(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "rl.sock")
	check := allOK(func(context.Context) error { return nil }, dialOK("unix", sock))
	require.Error(t, check(t.Context()), "no socket yet")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, check(t.Context()))
}

func TestConfig_goMaxProcs(t *testing.T) {
	cfg := Config{Root: t.TempDir()}
	require.NoError(t, cfg.defaults())
	require.Equal(t, DefaultGoMaxProcs(runtime.NumCPU()), cfg.GoMaxProcs)
	require.Equal(t, []string{"GOMAXPROCS=1"}, cfg.goMaxProcs(Inference))
	require.Equal(t, map[string]int{Inference: 1}, DefaultGoMaxProcs(8))
	require.Equal(t, map[string]int{Inference: 1, Extproc: 1, RateLimit: 1}, DefaultGoMaxProcs(2))

	// 0 keeps Go's default: no GOMAXPROCS in the environment.
	cfg = Config{Root: t.TempDir(), GoMaxProcs: map[string]int{Extproc: 0, Inference: 3}}
	require.NoError(t, cfg.defaults())
	require.Nil(t, cfg.goMaxProcs(Extproc))
	require.Nil(t, cfg.goMaxProcs(RateLimit))
	require.Equal(t, []string{"GOMAXPROCS=3"}, cfg.goMaxProcs(Inference))

	// A text-generation version keeps Go's default: its streams are
	// CPU-bound and would take turns on one P.
	require.Nil(t, cfg.inferenceMaxProcs(bootstrap.Target{Model: "scribe", Version: "1", LLM: true}))
	require.Equal(t, []string{"GOMAXPROCS=3"}, cfg.inferenceMaxProcs(bootstrap.Target{Model: "iris", Version: "2"}))

	cfg = Config{Root: t.TempDir(), GoMaxProcs: map[string]int{"envoy": 1}}
	require.ErrorContains(t, cfg.defaults(), `GoMaxProcs "envoy"`)
	cfg = Config{Root: t.TempDir(), GoMaxProcs: map[string]int{Extproc: -1}}
	require.ErrorContains(t, cfg.defaults(), "at least 0")
}
