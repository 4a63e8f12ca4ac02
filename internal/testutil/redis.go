package testutil

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Redis is a redis-server of one test, with the jobs store's settings:
// AOF on with an fsync per write, noeviction.
type Redis struct {
	t      testing.TB
	bin    string
	dir    string
	Socket string
	cmd    *exec.Cmd
}

// StartRedis starts a redis-server of the test's own on a unix socket in
// a temporary directory and returns the socket path. The server is killed
// when the test ends. Without redis-server on PATH the test is skipped.
func StartRedis(t testing.TB) string { return NewRedis(t).Socket }

// NewRedis starts a redis-server as StartRedis does and returns it, so a
// test can kill and restart it over the same data.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH")
	}
	dir := t.TempDir()
	r := &Redis{t: t, bin: bin, dir: dir, Socket: filepath.Join(dir, "redis.sock")}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Start starts the server (again) over its data directory and waits
// until it accepts connections.
func (r *Redis) Start() {
	r.t.Helper()
	_ = os.Remove(r.Socket)
	r.cmd = exec.Command(r.bin, "--port", "0", "--unixsocket", r.Socket, "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction", "--save", "")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("unix", r.Socket)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the server with SIGKILL, as a crash would.
func (r *Redis) Kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}
