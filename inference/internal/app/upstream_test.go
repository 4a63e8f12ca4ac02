package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// withUpstreamModel adds the text model remote, served by the
// OpenAI-compatible server at base, to a copied catalog.
func withUpstreamModel(t *testing.T, cat, base string) {
	t.Helper()
	b, err := os.ReadFile(cat)
	require.NoError(t, err)
	b = append(b, "\n  remote:\n    kind: llm\n    versions: [\"1\"]\n"...)
	require.NoError(t, os.WriteFile(cat, b, 0o644))
	dir := filepath.Join(filepath.Dir(cat), "remote", "1")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	manifest := `{"name":"remote","version":"1","format":"openai","algorithm":"upstream","created":"2026-12-03",
		"output":{"kind":"text","name":"text"},
		"generation":{"context_length":512,"vocab_size":256,"tokenizer":"bytes","max_output_tokens":32},
		"upstream":{"base_url":"` + base + `/v1","model":"tiny","api_key_env":"INFERENCE_UPSTREAM_TEST_KEY"}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644))
}

// startWith runs the service with the given environment.
func startWith(t *testing.T, environ map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	bound := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--addr", "127.0.0.1:0", "--log-format", "text"}, args...),
			func(k string) string { return environ[k] }, io.Discard, io.Discard, bound)
	}()
	select {
	case addr := <-bound:
		return addr
	case err := <-errc:
		t.Fatalf("run failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// TestUpstreamVersion serves a catalog version from an OpenAI-compatible
// upstream: the gateway's key comes from the environment, loopback is
// reached only when the operator allows it.
func TestUpstreamVersion(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-test" || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"no","type":"authentication_error"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range []string{
			`{"choices":[{"delta":{"content":"Amen"},"finish_reason":null}]}`,
			`{"choices":[{"delta":{},"finish_reason":"stop"}]}`, `[DONE]`,
		} {
			_, _ = io.WriteString(w, "data: "+e+"\n\n")
		}
	}))
	t.Cleanup(fake.Close)
	cat := copyModels(t)
	withUpstreamModel(t, cat, fake.URL)
	env := map[string]string{"INFERENCE_UPSTREAM_TEST_KEY": "sk-test"}
	chat := func(addr string) (int, string) {
		resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"remote","messages":[{"role":"user","content":"pray"}],"stream":true,"stream_options":{"include_usage":true}}`))
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("streams through when loopback is allowed", func(t *testing.T) {
		addr := startWith(t, env, "--catalog", cat, "--upstream-allow", "127.0.0.0/8,::1")
		status, body := chat(addr)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"content":"Amen"`)
		require.Contains(t, body, `"usage":{"prompt_tokens":4,"completion_tokens":4,"total_tokens":8}`, "counted, as the upstream sent no usage")
		require.True(t, strings.HasSuffix(body, "data: [DONE]\n\n"))
	})
	t.Run("refuses loopback by default", func(t *testing.T) {
		addr := startWith(t, env, "--catalog", cat)
		status, body := chat(addr)
		require.Equal(t, http.StatusBadGateway, status, body)
		require.Contains(t, body, `"code":"upstream_failed"`)
	})
	t.Run("fails to start without the key", func(t *testing.T) {
		err := run(t.Context(), []string{"--catalog", cat, "--check-config"}, func(string) string { return "" }, io.Discard, io.Discard, nil)
		require.ErrorContains(t, err, "INFERENCE_UPSTREAM_TEST_KEY: not set")
	})
}
