package testutil

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartRedis starts a redis-server of the test's own on a unix socket in
// a temporary directory, with the jobs store's settings (AOF on,
// noeviction), and returns the socket path. The server is killed when the
// test ends. Without redis-server on PATH the test is skipped.
func StartRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--dir", dir,
		"--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", "")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
