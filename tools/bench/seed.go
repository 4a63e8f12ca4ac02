package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelgate/modelgate/tools/stack"
)

// seedMode is one way of serving tools/bench/seed/app.py with uvicorn
// 0.17 (Debian 12's python3-uvicorn).
type seedMode struct {
	name string
	args []string
}

var (
	seedAsyncio = seedMode{name: "seed-asyncio", args: []string{"--loop", "asyncio", "--http", "h11", "--workers", "1"}}
	seedUvloop  = seedMode{name: "seed-uvloop-2w", args: []string{"--loop", "uvloop", "--http", "httptools", "--workers", "2"}}
)

// seedKey is the internal-tier key hard-coded in app.py's API_KEYS.
const seedKey = "seed-internal-bench-key"

// seedModules are what app.py and the two modes import; Debian packages
// them as python3-fastapi, python3-uvicorn, python3-uvloop and
// python3-httptools, for Debian's own /usr/bin/python3 only.
const seedModules = "fastapi, pydantic, uvicorn, uvloop, httptools"

// checkSeedDeps fails with the install command when python lacks a module.
func checkSeedDeps(ctx context.Context, python string) error {
	out, err := exec.CommandContext(ctx, python, "-c", "import "+seedModules).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import %s (%v: %s): run `make bench-deps` (apt-get install python3-fastapi python3-uvicorn python3-uvloop python3-httptools)",
			python, seedModules, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// seedProc is a running uvicorn: its master and, with --workers > 1, the
// workers it spawned.
type seedProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	url  string
	log  string
}

// startSeed runs uvicorn in its own process group, logging (uvicorn's
// access log included, as the seed ships) to runDir/logs, and waits until
// /healthz answers.
func startSeed(ctx context.Context, python, root, runDir string, port int, m seedMode) (*seedProc, error) {
	logPath := filepath.Join(runDir, "logs", m.name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	args := append([]string{"-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, m.args...)
	cmd := exec.Command(python, args...)
	cmd.Dir = filepath.Join(root, "tools", "bench", "seed")
	// Bytecode caches would land in the source tree.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	// As tools/stack does: own group (stop reaches the workers), killed if
	// the bench dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", m.name, python, err)
	}
	s := &seedProc{cmd: cmd, done: make(chan struct{}), url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logPath}
	go func() { _ = cmd.Wait(); close(s.done) }()

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited during start-up; log %s:\n%s", m.name, logPath, stack.Tail(logPath, 20))
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("%s not healthy: %w; log %s:\n%s", m.name, ctx.Err(), logPath, stack.Tail(logPath, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if s.healthy(ctx) && s.workersUp(m) {
			return s, nil
		}
	}
}

func (s *seedProc) healthy(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// workersUp reports whether every worker has logged its start-up: with
// two workers the first may answer /healthz while the second still
// imports, and the bench must not measure that.
func (s *seedProc) workersUp(m seedMode) bool {
	want := 1
	for i, a := range m.args {
		if a == "--workers" && i+1 < len(m.args) {
			want, _ = strconv.Atoi(m.args[i+1])
		}
	}
	b, _ := os.ReadFile(s.log)
	return strings.Count(string(b), "Application startup complete") >= want
}

// pid is the uvicorn master's pid (the root of the seed's CPU account).
func (s *seedProc) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM to the group, then SIGKILL after five seconds.
func (s *seedProc) stop() {
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // workers that outlived the master
}
