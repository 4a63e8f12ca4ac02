package upstream

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/internal/catalog"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// fakeUpstream is an OpenAI-compatible server: it records each request and
// answers with handle.
type fakeUpstream struct {
	t      *testing.T
	srv    *httptest.Server
	got    chan *seen
	handle func(w http.ResponseWriter, r *http.Request)
}

type seen struct {
	path, auth string
	body       map[string]any
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *fakeUpstream {
	f := &fakeUpstream{t: t, got: make(chan *seen, 8), handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.got <- &seen{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: body}
		f.handle(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// sse writes events, flushing each.
func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		_, _ = io.WriteString(w, e+"\n\n")
		w.(http.Flusher).Flush()
	}
}

func manifest(base, tokenizer, keyEnv string) *catalog.Manifest {
	return &catalog.Manifest{
		Name: "remote", Version: "1",
		Output:     catalog.Output{Kind: catalog.KindText, Name: "text"},
		Generation: &catalog.Generation{ContextLength: 100, VocabSize: 256, Tokenizer: tokenizer, MaxOutputTokens: 50},
		Upstream:   &catalog.Upstream{BaseURL: base + "/v1", Model: "up-model", APIKeyEnv: keyEnv},
	}
}

func generator(t *testing.T, base, tokenizer string, cfg Config) *Generator {
	t.Helper()
	if cfg.AllowPrefixes == nil {
		cfg.AllowPrefixes = loopback
	}
	cfg.Getenv = func(k string) string { return map[string]string{"INFERENCE_UPSTREAM_KEY": "sk-gateway"}[k] }
	g, err := NewClient(cfg).Generator(manifest(base, tokenizer, "INFERENCE_UPSTREAM_KEY"))
	require.NoError(t, err)
	return g
}

func collect(t *testing.T, g *Generator, ctx context.Context, req llm.Request) ([]string, llm.Result, error) {
	t.Helper()
	var pieces []string
	res, err := g.Generate(ctx, req, func(s string) error { pieces = append(pieces, s); return nil })
	return pieces, res, err
}

var chatReq = llm.Request{
	Messages: []llm.Message{{Role: "user", Content: "hello"}},
	Params:   llm.Params{MaxTokens: 7, Temperature: 0.5, TopP: 0.9, Stop: []string{"\n"}, Seed: 3, HasSeed: true},
}

func TestGenerate_chatStream(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		sse(w, `: keep-alive`,
			`data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
			`data:{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`,
			"event: message\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}",
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`,
			`data: {"choices":null,"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}`,
			`data: [DONE]`)
	})
	g := generator(t, f.srv.URL, "other", Config{})
	pieces, res, err := collect(t, g, t.Context(), chatReq)
	require.NoError(t, err)
	require.Equal(t, []string{"Hi", " there"}, pieces)
	require.Equal(t, llm.Result{PromptTokens: 11, CompletionTokens: 2, Finish: llm.FinishLength}, res, "the upstream's usage is taken")
	s := <-f.got
	require.Equal(t, "/v1/chat/completions", s.path)
	require.Equal(t, "Bearer sk-gateway", s.auth, "the gateway's key, read from the environment")
	require.Equal(t, map[string]any{
		"model": "up-model", "messages": []any{map[string]any{"role": "user", "content": "hello"}},
		"max_tokens": 7.0, "temperature": 0.5, "top_p": 0.9, "seed": 3.0, "stop": []any{"\n"},
		"stream": true, "stream_options": map[string]any{"include_usage": true},
	}, s.body)
}

func TestGenerate_completionWithoutUsage(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		sse(w, `data: {"choices":[{"text":"abc","finish_reason":null}]}`,
			`data: {"choices":[{"text":"de","finish_reason":"stop"}]}`)
	})
	g := generator(t, f.srv.URL, catalog.TokenizerBytes, Config{})
	pieces, res, err := collect(t, g, t.Context(), llm.Request{Prompt: "four", Params: llm.Params{MaxTokens: 5}})
	require.NoError(t, err, "a stream that ends after its finish reason without [DONE] is complete")
	require.Equal(t, []string{"abc", "de"}, pieces)
	require.Equal(t, llm.Result{PromptTokens: 4, CompletionTokens: 5, Finish: llm.FinishStop}, res, "counted when the upstream sends no usage")
	require.Equal(t, "/v1/completions", (<-f.got).path)
}

func TestGenerate_underReportedUsage(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		sse(w, `data: {"choices":[{"delta":{"content":"a"}}]}`, `data: {"choices":[{"delta":{"content":"b"}}]}`,
			`data: {"choices":[{"delta":{"content":"c"},"finish_reason":"stop"}]}`,
			`data: {"choices":[],"usage":{"prompt_tokens":0,"completion_tokens":1,"total_tokens":1}}`, `data: [DONE]`)
	})
	_, res, err := collect(t, generator(t, f.srv.URL, "other", Config{}), t.Context(), chatReq)
	require.NoError(t, err)
	require.Equal(t, 3, res.CompletionTokens, "three deltas are at least three tokens")
	require.Equal(t, 2, res.PromptTokens, "the estimate when the upstream reports none")
}

func TestGenerate_wholeAnswer(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"all at once"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}`)
	})
	pieces, res, err := collect(t, generator(t, f.srv.URL, "other", Config{}), t.Context(), chatReq)
	require.NoError(t, err)
	require.Equal(t, []string{"all at once"}, pieces)
	require.Equal(t, 3, res.CompletionTokens)
}

func TestGenerate_failures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handle     func(w http.ResponseWriter, r *http.Request)
		wantStatus int
		wantRetry  int
		wantIs     error
	}{
		{name: "passes a 429 on with its Retry-After", handle: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`)
		}, wantStatus: 429, wantRetry: 3},
		{name: "maps context_length_exceeded to ErrPromptTooLong", handle: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`)
		}, wantIs: llm.ErrPromptTooLong},
		{name: "reports a 5xx", handle: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}, wantStatus: 502},
		{name: "does not follow redirects", handle: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusFound)
		}, wantStatus: 302},
		{name: "reports an error event inside the stream", handle: func(w http.ResponseWriter, _ *http.Request) {
			sse(w, `data: {"choices":[{"delta":{"content":"a"}}]}`, `data: {"error":{"message":"overloaded","type":"server_error"}}`)
		}, wantStatus: errMidStream},
		{name: "reports a stream cut before the end", handle: func(w http.ResponseWriter, _ *http.Request) {
			sse(w, `data: {"choices":[{"delta":{"content":"a"}}]}`)
		}, wantStatus: errMidStream},
		{name: "bounds the answer's size", handle: func(w http.ResponseWriter, _ *http.Request) {
			sse(w, `data: {"choices":[{"delta":{"content":"`+strings.Repeat("x", 4096)+`"}}]}`)
		}, wantStatus: errMidStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, tc.handle)
			_, _, err := collect(t, generator(t, f.srv.URL, "other", Config{MaxResponseBytes: 1024}), t.Context(), chatReq)
			if tc.wantIs != nil {
				require.ErrorIs(t, err, tc.wantIs)
				return
			}
			var ue *llm.UpstreamError
			require.ErrorAs(t, err, &ue)
			require.Equal(t, tc.wantStatus, ue.Status, ue.Detail)
			require.Equal(t, tc.wantRetry, ue.RetryAfter)
		})
	}
}

func TestGenerate_timeoutAndCancel(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{}, 2)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		sse(w, `data: {"choices":[{"delta":{"content":"a"}}]}`)
		<-r.Context().Done()
		gone <- struct{}{}
	})
	_, _, err := collect(t, generator(t, f.srv.URL, "other", Config{Timeout: 200 * time.Millisecond}), t.Context(), chatReq)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel := context.WithCancel(t.Context())
	g := generator(t, f.srv.URL, "other", Config{})
	_, err = g.Generate(ctx, chatReq, func(string) error { cancel(); return nil })
	require.ErrorIs(t, err, context.Canceled, "the caller leaving is not an upstream failure")
	for range 2 {
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream call was not abandoned")
		}
	}
}

func TestGenerate_refusesInternalAddresses(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request) { sse(w, `data: [DONE]`) })
	g := generator(t, f.srv.URL, "other", Config{AllowPrefixes: []netip.Prefix{}})
	_, _, err := collect(t, g, t.Context(), chatReq)
	var ue *llm.UpstreamError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, 0, ue.Status)
	require.Contains(t, ue.Detail, "prohibited IP address", "loopback needs the operator's allow list")
	require.Empty(t, f.got, "nothing reached the server")
}

func TestClient_Generator(t *testing.T) {
	t.Parallel()
	_, err := NewClient(Config{Getenv: func(string) string { return "" }}).Generator(manifest("http://x", "bytes", "INFERENCE_UPSTREAM_KEY"))
	require.ErrorContains(t, err, "INFERENCE_UPSTREAM_KEY: not set")
	g, err := NewClient(Config{}).Generator(manifest("http://x/", "bytes", ""))
	require.NoError(t, err, "no key needed when none is named")
	require.Equal(t, 100, g.ContextLength())
	require.Equal(t, 50, g.MaxOutputTokens())
	n, _ := g.CountPromptTokens(chatReq)
	require.Equal(t, 5, n)
	g.gen.Tokenizer = "other"
	n, _ = g.CountPromptTokens(chatReq)
	require.Equal(t, 2, n, "a quarter of the bytes, rounded up")
}
