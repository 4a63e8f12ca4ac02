package stack

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// events collects what the supervisor reports.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) of(name string, k EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.all {
		if ev.Proc == name && ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// testStack is a stack of shell processes, supervised until the test ends.
func testStack(t *testing.T, procs map[string]string, r Restart) (*Stack, *events) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	dir := t.TempDir()
	s := &Stack{cfg: Config{Root: dir, StartTimeout: 5 * time.Second}, procs: map[string]*Proc{}}
	for name, script := range procs {
		s.procs[name] = &Proc{Name: name, bin: sh, args: []string{"-c", script}, dir: dir,
			Log: filepath.Join(dir, name+".log"), pidFile: filepath.Join(dir, name+".pid")}
		s.order = append(s.order, name)
	}
	for _, name := range s.order {
		require.NoError(t, s.procs[name].start())
	}
	ctx, cancel := context.WithCancel(t.Context())
	ev := &events{}
	done := make(chan struct{})
	go func() { s.Supervise(ctx, r, ev.add); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Stop()
	})
	return s, ev
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSupervise_restartsAKilledProcessAndLeavesTheOthers(t *testing.T) {
	t.Parallel()
	s, ev := testStack(t, map[string]string{"victim": "exec sleep 60", "bystander": "exec sleep 60"},
		Restart{Initial: 50 * time.Millisecond})
	victim, bystander := s.Proc("victim"), s.Proc("bystander")
	oldPid, bystanderPid := victim.Pid(), bystander.Pid()

	require.NoError(t, syscall.Kill(oldPid, syscall.SIGKILL)) // kill -9, from outside
	waitFor(t, "the restart", func() bool { return len(ev.of("victim", Restarted)) == 1 })

	died := ev.of("victim", Died)
	require.Len(t, died, 1)
	require.Equal(t, oldPid, died[0].Pid)
	require.ErrorContains(t, died[0].Err, "killed")
	require.Equal(t, 50*time.Millisecond, died[0].Backoff)
	require.Contains(t, died[0].String(), "died after")
	require.True(t, victim.Running())
	require.NotEqual(t, oldPid, victim.Pid())
	require.Equal(t, bystanderPid, bystander.Pid(), "the other process is untouched")
	require.Empty(t, ev.of("bystander", Died))
}

func TestSupervise_backsOffAndGivesUpOnACrashLoop(t *testing.T) {
	t.Parallel()
	s, ev := testStack(t, map[string]string{"crasher": "echo boom >&2; exit 3", "steady": "exec sleep 60"},
		Restart{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, MaxCrashes: 4, Window: time.Minute})
	waitFor(t, "giving up", func() bool { return len(ev.of("crasher", GaveUp)) == 1 })

	var backoffs []time.Duration
	for _, e := range ev.of("crasher", Died) {
		backoffs = append(backoffs, e.Backoff)
		require.ErrorContains(t, e.Err, "exit status 3")
	}
	require.Equal(t, []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}, backoffs,
		"doubling, capped at Max; the fourth crash gives up")
	gave := ev.of("crasher", GaveUp)[0]
	require.Equal(t, 4, gave.Crashes)
	require.Contains(t, gave.String(), "giving up on it, the rest stays up")
	require.False(t, s.Proc("crasher").Running())
	require.True(t, s.Proc("steady").Running())

	// Given up means left alone: no further restarts.
	time.Sleep(200 * time.Millisecond)
	require.Len(t, ev.of("crasher", Died), 3)
}

func TestSupervise_leavesProcessesStoppedOnPurposeDown(t *testing.T) {
	t.Parallel()
	s, ev := testStack(t, map[string]string{"svc": "exec sleep 60"}, Restart{Initial: 10 * time.Millisecond})
	require.NoError(t, s.KillProc("svc"))
	time.Sleep(200 * time.Millisecond)
	require.False(t, s.Proc("svc").Running(), "KillProc is on purpose")
	require.Empty(t, ev.of("svc", Died))

	// Started again by hand, it is supervised again.
	require.NoError(t, s.Proc("svc").start())
	pid := s.Proc("svc").Pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitFor(t, "the restart", func() bool { return len(ev.of("svc", Restarted)) == 1 })
	require.NotEqual(t, pid, s.Proc("svc").Pid())
}

func TestRestart_backoff(t *testing.T) {
	t.Parallel()
	r := Restart{}
	r.defaults()
	var got []string
	for n := 1; n <= 7; n++ {
		got = append(got, r.backoff(n).String())
	}
	require.Equal(t, "250ms 500ms 1s 2s 4s 8s 8s", strings.Join(got, " "))
}
