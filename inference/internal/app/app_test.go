package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const irisRow = `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`

// copyModels copies the committed model repository into a temp folder so a
// test can rewrite the catalog.
func copyModels(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := "../../../models"
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	require.NoError(t, err)
	return filepath.Join(dst, "catalog.yaml")
}

func start(t *testing.T, args ...string) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	bound := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--addr", "127.0.0.1:0", "--log-format", "text"}, args...),
			func(string) string { return "" }, io.Discard, io.Discard, bound)
	}()
	select {
	case addr = <-bound:
	case err := <-errc:
		t.Fatalf("run failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(cancel)
	return addr, cancel, errc
}

func latestVersion(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v2/predict", "application/json",
		strings.NewReader(`{"model":"iris","inputs":[`+irisRow+`]}`))
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.Header.Get("x-model-version")
}

func rewriteCatalog(t *testing.T, path, from, to string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := strings.Replace(string(b), from, to, 1)
	require.NotEqual(t, string(b), s, "catalog rewrite must change something")
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(s), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

func TestReloadOnFileChange(t *testing.T) {
	cat := copyModels(t)
	addr, _, _ := start(t, "--catalog", cat)
	require.Equal(t, "2", latestVersion(t, addr))

	rewriteCatalog(t, cat, `latest: "2"`, `latest: "1"`)
	require.Eventually(t, func() bool { return latestVersion(t, addr) == "1" }, 5*time.Second, 50*time.Millisecond,
		"a catalog change moves the latest alias without a restart")

	// A broken catalog is rejected and the previous one keeps serving.
	rewriteCatalog(t, cat, `latest: "1"`, `latest: "9"`)
	time.Sleep(600 * time.Millisecond)
	require.Equal(t, "1", latestVersion(t, addr))
}

func TestReloadOnSIGHUP(t *testing.T) {
	cat := copyModels(t)
	addr, _, _ := start(t, "--catalog", cat, "--watch=false")
	require.Equal(t, "2", latestVersion(t, addr))
	rewriteCatalog(t, cat, `latest: "2"`, `latest: "1"`)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, "2", latestVersion(t, addr), "without the watch nothing changes before SIGHUP")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool { return latestVersion(t, addr) == "1" }, 5*time.Second, 50*time.Millisecond)
}

// TestGracefulShutdown sends half a request, stops the server, then sends
// the rest: the in-flight request must still be answered.
func TestGracefulShutdown(t *testing.T) {
	addr, cancel, done := start(t, "--catalog", "../../../models/catalog.yaml")
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	body := `{"model":"iris","inputs":[` + irisRow + `]}`
	_, err = fmt.Fprintf(conn, "POST /v2/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // let the server start reading the request
	cancel()
	time.Sleep(200 * time.Millisecond)
	_, err = conn.Write([]byte(body[10:]))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, "iris", out["model"])
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the listener is closed after shutdown")
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	err := Run(t.Context(), []string{"--check-config", "--catalog", "../../../models/catalog.yaml", "--serve", "iris:latest"},
		func(string) string { return "" }, &out, io.Discard)
	require.NoError(t, err)
	require.Contains(t, out.String(), "iris:2")

	err = Run(t.Context(), []string{"--check-config", "--catalog", "../../../models/catalog.yaml", "--serve", "iris:9,tulip:1", "--max-batch-rows", "0"},
		func(string) string { return "" }, io.Discard, io.Discard)
	require.ErrorContains(t, err, "max-batch-rows")
}

// TestMetrics checks that an operator gets latency percentiles and traffic
// per model version from /metrics.
func TestMetrics(t *testing.T) {
	addr, _, _ := start(t, "--catalog", "../../../models/catalog.yaml")
	require.Equal(t, "2", latestVersion(t, addr))
	resp, err := http.Post("http://"+addr+"/v2/predict", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(b)
	for _, want := range []string{
		`http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="200",http_route="POST /v2/predict",model="iris",model_version="2"`,
		`http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="415"`,
		`modelgate_inference_predictions_total{model="iris",model_version="2"} 1`,
		`modelgate_inference_batch_rows_bucket{model="iris",model_version="2"`,
	} {
		require.Contains(t, text, want)
	}
}

func TestRun_webhookSecret(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	var out, errs strings.Builder
	require.NoError(t, Run(t.Context(), []string{"webhook-secret", "create", "--client", "demo", "--file", path},
		func(string) string { return "" }, &out, &errs))
	require.True(t, strings.HasPrefix(out.String(), "whsec_"), out.String())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), strings.TrimSpace(out.String()))
	require.Error(t, Run(t.Context(), []string{"webhook-secret", "list"}, func(string) string { return "" }, &out, &errs))
}
