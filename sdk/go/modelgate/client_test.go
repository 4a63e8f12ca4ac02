package modelgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/sdk/go/modelgate"
)

// fakeGateway answers from a queue of handlers and records every request.
type fakeGateway struct {
	mu       sync.Mutex
	replies  []http.HandlerFunc
	requests []*http.Request
	bodies   []string
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.bodies = append(f.bodies, string(b))
	if len(f.replies) == 0 {
		f.mu.Unlock()
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	h := f.replies[0]
	f.replies = f.replies[1:]
	f.mu.Unlock()
	h(w, r)
}

func jsonReply(status int, body any, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("content-type", "application/json")
		w.Header().Set("x-request-id", "req-1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}

func problemReply(status int, typ string, headers ...string) http.HandlerFunc {
	return jsonReply(status, map[string]any{"type": problem.TypeBase + typ, "title": typ, "status": status,
		"errors": []map[string]string{{"pointer": "/inputs/0/a", "detail": "must be a number"}}}, headers...)
}

func newClient(t *testing.T, f *fakeGateway) (*modelgate.Client, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var sleeps []time.Duration
	c, err := modelgate.New(modelgate.Config{
		APIKey: "mg_test", BaseURL: srv.URL,
		Sleep: func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil },
		Warn:  func(string) {},
	})
	require.NoError(t, err)
	return c, &sleeps
}

var rows = []predict.Row{{"a": json.RawMessage("1")}}

func TestClient_Predict(t *testing.T) {
	t.Parallel()
	f := &fakeGateway{replies: []http.HandlerFunc{jsonReply(200, predict.V2Response{Model: "iris", ModelVersion: "2"})}}
	c, _ := newClient(t, f)
	var raw *http.Response
	out, err := c.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: rows}, modelgate.WithModelVersion("2"), modelgate.WithResponse(&raw))
	require.NoError(t, err)
	require.Equal(t, "2", out.ModelVersion)
	require.Equal(t, "req-1", raw.Header.Get("x-request-id"))
	r := f.requests[0]
	require.Equal(t, "mg_test", r.Header.Get("x-api-key"))
	require.Equal(t, "2", r.Header.Get("x-model-version"))
	require.Regexp(t, `^mg-[0-9a-f]{32}$`, r.Header.Get("idempotency-key"))
	require.JSONEq(t, `{"model":"iris","inputs":[{"a":1}]}`, f.bodies[0])
}

func TestClient_errors(t *testing.T) {
	t.Parallel()
	f := &fakeGateway{replies: []http.HandlerFunc{problemReply(400, "validation-failed")}}
	c, _ := newClient(t, f)
	_, err := c.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: rows})
	var apiErr *modelgate.APIError
	require.ErrorAs(t, err, &apiErr)
	require.True(t, modelgate.IsValidation(err))
	require.Equal(t, 400, apiErr.StatusCode)
	require.Equal(t, "req-1", apiErr.RequestID)
	require.Equal(t, []problem.Violation{{Pointer: "/inputs/0/a", Detail: "must be a number"}}, apiErr.Violations())
}

func TestClient_retries(t *testing.T) {
	t.Parallel()
	t.Run("retries 503 with one idempotency key", func(t *testing.T) {
		t.Parallel()
		f := &fakeGateway{replies: []http.HandlerFunc{problemReply(503, "service-unavailable"), problemReply(429, "quota-exceeded", "retry-after-ms", "1500"), jsonReply(200, map[string]any{})}}
		c, sleeps := newClient(t, f)
		_, err := c.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: rows})
		require.NoError(t, err)
		require.Len(t, f.requests, 3)
		key := f.requests[0].Header.Get("idempotency-key")
		for i, r := range f.requests {
			require.Equal(t, key, r.Header.Get("idempotency-key"))
			if i > 0 {
				require.Equal(t, fmt.Sprint(i), r.Header.Get("x-retry-count"))
			}
		}
		require.Equal(t, 1500*time.Millisecond, (*sleeps)[1])
		require.InDelta(t, 500*time.Millisecond, (*sleeps)[0], float64(125*time.Millisecond))
	})
	t.Run("does not wait beyond the cap", func(t *testing.T) {
		t.Parallel()
		f := &fakeGateway{replies: []http.HandlerFunc{problemReply(429, "quota-exceeded", "retry-after", "3600")}}
		c, _ := newClient(t, f)
		_, err := c.ListModels(t.Context())
		require.True(t, modelgate.IsRateLimited(err))
		var apiErr *modelgate.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, time.Hour, apiErr.RetryAfter)
		require.Len(t, f.requests, 1)
	})
	t.Run("x-should-retry false and finished jobs are final", func(t *testing.T) {
		t.Parallel()
		f := &fakeGateway{replies: []http.HandlerFunc{problemReply(503, "x", "x-should-retry", "false"), problemReply(409, "job-finished")}}
		c, _ := newClient(t, f)
		_, err := c.ListModels(t.Context())
		require.True(t, modelgate.IsServer(err))
		_, err = c.CancelJob(t.Context(), "job_1")
		require.Error(t, err)
		require.Len(t, f.requests, 2)
	})
	t.Run("connection errors", func(t *testing.T) {
		t.Parallel()
		c, err := modelgate.New(modelgate.Config{APIKey: "k", BaseURL: "http://127.0.0.1:1", Sleep: func(context.Context, time.Duration) error { return nil }})
		require.NoError(t, err)
		_, err = c.ListModels(t.Context())
		var ce *modelgate.ConnectionError
		require.ErrorAs(t, err, &ce)
	})
}

func sseReply(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		w.Header().Set("x-request-id", "req-sse")
		for _, e := range events {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", e); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			if r.Context().Err() != nil {
				return
			}
		}
	}
}

func chunk(s string) string {
	b, _ := json.Marshal(openai.ChatCompletionChunk{Object: "chat.completion.chunk", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Content: &s}}}})
	return string(b)
}

func TestClient_ChatCompletionStream(t *testing.T) {
	t.Parallel()
	t.Run("yields chunks until [DONE]", func(t *testing.T) {
		t.Parallel()
		f := &fakeGateway{replies: []http.HandlerFunc{sseReply(chunk("a"), chunk("b"), openai.Done, chunk("after"))}}
		c, _ := newClient(t, f)
		s, err := c.ChatCompletionStream(t.Context(), openai.ChatCompletionRequest{Model: "scribe", Messages: []openai.Message{{Role: "user", Content: "hi"}}})
		require.NoError(t, err)
		defer s.Close()
		var got []string
		for s.Next() {
			got = append(got, *s.Current().Choices[0].Delta.Content)
		}
		require.NoError(t, s.Err())
		require.Equal(t, []string{"a", "b"}, got)
		require.Equal(t, "text/event-stream", f.requests[0].Header.Get("accept"))
		require.JSONEq(t, `{"model":"scribe","messages":[{"role":"user","content":"hi"}],"stream":true}`, f.bodies[0])
	})
	t.Run("an error event ends it with a StreamError", func(t *testing.T) {
		t.Parallel()
		f := &fakeGateway{replies: []http.HandlerFunc{sseReply(chunk("a"), `{"error":{"message":"boom","type":"server_error","code":"internal_error"}}`)}}
		c, _ := newClient(t, f)
		s, err := c.ChatCompletionStream(t.Context(), openai.ChatCompletionRequest{Model: "scribe"})
		require.NoError(t, err)
		n := 0
		for s.Next() {
			n++
		}
		var se *modelgate.StreamError
		require.ErrorAs(t, s.Err(), &se)
		require.Equal(t, "internal_error", se.Code)
		require.Equal(t, 1, n)
	})
	t.Run("a broken stream is a connection error", func(t *testing.T) {
		t.Parallel()
		f := &fakeGateway{replies: []http.HandlerFunc{sseReply(chunk("a"))}}
		c, _ := newClient(t, f)
		s, err := c.ChatCompletionStream(t.Context(), openai.ChatCompletionRequest{Model: "scribe"})
		require.NoError(t, err)
		for s.Next() {
		}
		var ce *modelgate.ConnectionError
		require.ErrorAs(t, s.Err(), &ce)
	})
	t.Run("closing early drops the connection", func(t *testing.T) {
		t.Parallel()
		gone := make(chan struct{})
		f := &fakeGateway{replies: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", "text/event-stream")
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "data: %s\n\n", chunk(fmt.Sprint(i))); err != nil {
					break
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					close(gone)
					return
				case <-time.After(time.Millisecond):
				}
			}
			close(gone)
		}}}
		c, _ := newClient(t, f)
		s, err := c.ChatCompletionStream(t.Context(), openai.ChatCompletionRequest{Model: "scribe"})
		require.NoError(t, err)
		require.True(t, s.Next())
		require.NoError(t, s.Close())
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("the server never saw the client go")
		}
	})
}

func job(status string, id string) map[string]any {
	return map[string]any{"id": id, "object": "job", "status": status, "model": "iris", "created_at": "2026-12-03T10:00:00Z"}
}

func TestClient_jobs(t *testing.T) {
	t.Parallel()
	f := &fakeGateway{replies: []http.HandlerFunc{
		jsonReply(202, job("queued", "job_1"), "location", "/v2/jobs/job_1"),
		jsonReply(200, job("running", "job_1"), "retry-after", "2"),
		jsonReply(200, job("succeeded", "job_1")),
		jsonReply(200, map[string]any{"object": "list", "data": []any{job("succeeded", "j1")}, "next_cursor": "c2"}),
		jsonReply(200, map[string]any{"object": "list", "data": []any{job("failed", "j2")}}),
		jsonReply(200, map[string]any{"object": "list", "data": []any{map[string]any{"id": "d1", "outcome": "failed", "status": 500}}}),
		jsonReply(202, map[string]any{"id": "d2"}),
	}}
	c, sleeps := newClient(t, f)
	ctx := t.Context()
	j, err := c.SubmitJob(ctx, modelgate.JobRequest{Model: "iris", Inputs: rows, Webhook: "https://hooks.example/x"}, modelgate.WithWait(5*time.Second))
	require.NoError(t, err)
	require.Equal(t, "wait=5", f.requests[0].Header.Get("prefer"))
	done, err := c.WaitJob(ctx, j.ID, 250*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, "succeeded", string(done.Status))
	require.Equal(t, []time.Duration{2 * time.Second}, *sleeps)
	var ids []string
	for j, err := range c.Jobs(ctx, modelgate.ListJobsParams{Limit: 1}) {
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	require.Equal(t, []string{"j1", "j2"}, ids)
	require.Equal(t, "cursor=c2&limit=1", f.requests[4].URL.RawQuery)
	ds, err := c.JobDeliveries(ctx, "job_1")
	require.NoError(t, err)
	require.Equal(t, "failed", ds[0].Outcome)
	d, err := c.Redeliver(ctx, "job_1", "d1")
	require.NoError(t, err)
	require.Equal(t, "d2", d.ID)
	require.Equal(t, "/v2/jobs/job_1/deliveries/d1/redeliver", f.requests[6].URL.Path)
}

func TestClient_deprecationWarnsOncePerRoute(t *testing.T) {
	t.Parallel()
	dep := []string{"deprecation", "@1688169600", "sunset", "Sun, 30 Jun 2030 23:59:59 GMT"}
	f := &fakeGateway{replies: []http.HandlerFunc{jsonReply(200, map[string]any{}, dep...), jsonReply(200, map[string]any{}, dep...)}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var warned []string
	c, err := modelgate.New(modelgate.Config{APIKey: "k", BaseURL: srv.URL, Warn: func(m string) { warned = append(warned, m) }})
	require.NoError(t, err)
	for range 2 {
		_, err = c.PredictV1(t.Context(), predict.V1Request{Inputs: rows})
		require.NoError(t, err)
	}
	require.Len(t, warned, 1)
	require.Contains(t, warned[0], "POST /v1/predict is deprecated")
}

func TestNew_needsAKey(t *testing.T) {
	t.Setenv("MODELGATE_API_KEY", "")
	_, err := modelgate.New(modelgate.Config{})
	require.Error(t, err)
	require.False(t, errors.Is(err, context.Canceled))
}
