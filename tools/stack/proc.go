package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one running process of the stack.
type Proc struct {
	Name string
	// Log is the file that receives the process's stdout and stderr.
	Log string

	bin     string
	args    []string
	env     []string
	dir     string
	pidFile string
	health  func(context.Context) error
	// prestart, if set, runs before every start (e.g. removes a stale socket).
	prestart func()

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// started is when the current run began; gen counts the starts.
	started time.Time
	gen     int
	// held is set by stop: the process was stopped on purpose, and the
	// supervisor leaves it down until something starts it again.
	held bool
}

// start launches the process in its own process group. The kernel sends it
// SIGKILL if the starting process dies (Pdeathsig), so even a crashed
// runner leaves no orphans behind.
func (p *Proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

// startLocked is start with p.mu held.
func (p *Proc) startLocked() error {
	if p.cmd != nil && p.running() {
		return fmt.Errorf("%s: already running", p.Name)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	if p.prestart != nil {
		p.prestart()
	}
	fmt.Fprintf(logf, "---- %s start %s %s\n", time.Now().Format(time.RFC3339), p.bin, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Dir = p.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: start %s: %w", p.Name, p.bin, err)
	}
	p.cmd = cmd
	done := make(chan struct{})
	p.done = done
	p.started, p.held = time.Now(), false
	p.gen++
	exe, _ := filepath.Abs(p.bin)
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	_ = os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+" "+exe+"\n"), 0o644)
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *Proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running()
}

// Pid returns the process id (also its process group id), 0 if not running.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop sends sig to the process group, waits up to grace, then kills the
// group.
func (p *Proc) stop(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	if !p.running() {
		p.held = true
		p.mu.Unlock()
		return nil
	}
	pid, done := p.cmd.Process.Pid, p.done
	p.held = true
	p.mu.Unlock()
	_ = syscall.Kill(-pid, sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	// Members of the group that outlived the leader.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = os.Remove(p.pidFile)
	return nil
}

// waitHealthy polls the health check until it passes, the process exits or
// ctx ends.
func (p *Proc) waitHealthy(ctx context.Context) error {
	if p.health == nil {
		return nil
	}
	var last error
	for {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("%s exited during start-up (%v); log %s:\n%s", p.Name, p.exitErr(), p.Log, Tail(p.Log, 20))
		default:
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		last = p.health(hctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %w (last check: %v); log %s:\n%s", p.Name, ctx.Err(), last, p.Log, Tail(p.Log, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Tail returns the last n lines of a log file, indented, for error messages.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// KillStale stops processes that an earlier run recorded in pidDir and that
// are still alive, checking that each pid still runs the recorded
// executable so an unrelated process that reused the pid is left alone.
func KillStale(pidDir string) ([]string, error) {
	entries, err := os.ReadDir(pidDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var killed []string
	for _, e := range entries {
		path := filepath.Join(pidDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b))
		_ = os.Remove(path)
		if len(fields) != 2 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || pid <= 1 {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || exe != fields[1] {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		killed = append(killed, fmt.Sprintf("%s (pid %d)", strings.TrimSuffix(e.Name(), ".pid"), pid))
	}
	return killed, nil
}
