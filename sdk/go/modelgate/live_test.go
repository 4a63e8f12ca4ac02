package modelgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/sdk/go/modelgate"
)

// TestLive runs against the whole stack through Envoy when
// MODELGATE_SDK_LIVE=1; sdk/python/tests/test_live.py starts the stack and
// runs it with keys in MODELGATE_API_KEY (a tier with room) and
// MODELGATE_SDK_FREE_KEY (the free tier, to meet its quota), failing when a
// subtest fails or skips.
func TestLive(t *testing.T) {
	freeKey := os.Getenv("MODELGATE_SDK_FREE_KEY")
	if os.Getenv("MODELGATE_SDK_LIVE") != "1" || os.Getenv("MODELGATE_API_KEY") == "" || freeKey == "" {
		t.Skip("live tests run with make test-sdk-live")
	}
	row := predict.Row{"sepal_length": json.RawMessage("5.1"), "sepal_width": json.RawMessage("3.5"),
		"petal_length": json.RawMessage("1.4"), "petal_width": json.RawMessage("0.2")}
	msgs := []openai.Message{{Role: "user", Content: "In the beginning"}}

	t.Run("a prediction, x-model-version read from the raw response", func(t *testing.T) {
		c := liveClient(t, "", nil)
		var resp *http.Response
		out, err := c.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: []predict.Row{row},
			Options: predict.V2Options{ReturnProbabilities: true}},
			modelgate.WithResponse(&resp), modelgate.WithHeader("cache-control", "no-cache"))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "setosa", out.Predictions[0].Label)
		require.NotEmpty(t, resp.Header.Get("x-model-version"))
		require.Equal(t, out.ModelVersion, resp.Header.Get("x-model-version"))
		require.NotEmpty(t, resp.Header.Get("x-request-id"))
		require.Equal(t, 1, out.Usage.Rows)

		pinned, err := c.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: []predict.Row{row}},
			modelgate.WithModelVersion("1"), modelgate.WithResponse(&resp), modelgate.WithHeader("cache-control", "no-cache"))
		require.NoError(t, err)
		require.Equal(t, "1", pinned.ModelVersion)
		require.Equal(t, "1", resp.Header.Get("x-model-version"))
	})

	t.Run("problems are typed, a validation problem with its pointers", func(t *testing.T) {
		c := liveClient(t, "", nil)
		_, err := c.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: []predict.Row{{"sepal_length": json.RawMessage("5.1")}}})
		require.True(t, modelgate.IsValidation(err), "%v", err)
		var apiErr *modelgate.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		require.NotEmpty(t, apiErr.RequestID)
		var pointers []string
		for _, v := range apiErr.Violations() {
			require.True(t, strings.HasPrefix(v.Pointer, "/inputs/0/"), v.Pointer)
			require.NotEmpty(t, v.Detail)
			pointers = append(pointers, v.Pointer)
		}
		require.Contains(t, pointers, "/inputs/0/petal_width")

		_, err = c.Predict(t.Context(), predict.V2Request{Model: "no-such-model", Inputs: []predict.Row{row}})
		require.True(t, modelgate.IsNotFound(err), "%v", err)
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, problem.TypeUnknownModel, apiErr.Type)

		bad, err := modelgate.New(modelgate.Config{APIKey: "mg_not_a_key"})
		require.NoError(t, err)
		_, err = bad.ListModels(t.Context())
		require.True(t, modelgate.IsAuthentication(err), "%v", err)
	})

	t.Run("a 429 is honoured, waiting as Retry-After says", func(t *testing.T) {
		strict := liveClient(t, freeKey, nil, func(cfg *modelgate.Config) { cfg.MaxRetries = -1 })
		var limited *modelgate.APIError
		for range 20 { // the free tier allows 5 requests a second
			_, err := strict.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: []predict.Row{row}},
				modelgate.WithHeader("cache-control", "no-cache"))
			if err == nil {
				continue
			}
			require.True(t, modelgate.IsRateLimited(err), "%v", err)
			require.ErrorAs(t, err, &limited)
			break
		}
		require.NotNil(t, limited, "the free tier never answered 429")
		require.Positive(t, limited.RetryAfter)
		require.LessOrEqual(t, limited.RetryAfter, time.Minute)

		// A retrying client meets the same quota: each call must still
		// succeed, and the one that met a 429 waited at least as long as
		// it was told to.
		rec := &recorder{}
		patient := liveClient(t, freeKey, rec, func(cfg *modelgate.Config) { cfg.MaxRetries = 3 })
		honoured := false
		for i := 0; i < 20 && !honoured; i++ {
			before := len(rec.snapshot())
			_, err := patient.Predict(t.Context(), predict.V2Request{Model: "iris", Inputs: []predict.Row{row}},
				modelgate.WithHeader("cache-control", "no-cache"))
			require.NoError(t, err)
			mine := rec.snapshot()[before:]
			for k, a := range mine {
				if a.status != http.StatusTooManyRequests {
					continue
				}
				require.Greater(t, len(mine), k+1, "a 429 was not retried")
				told := announcedWait(a.header)
				waited := mine[k+1].at.Sub(a.at)
				require.GreaterOrEqual(t, waited, told*9/10, "waited %v, told %v", waited, told)
				honoured = true
				break
			}
		}
		require.True(t, honoured, "no call met the quota")
	})

	t.Run("a chat stream read to [DONE], another broken off", func(t *testing.T) {
		rec := &recorder{}
		c := liveClient(t, "", rec)
		n := 8
		s, err := c.ChatCompletionStream(t.Context(), openai.ChatCompletionRequest{Model: "scribe", Messages: msgs,
			Sampling: openai.Sampling{MaxTokens: &n, StreamOptions: &openai.StreamOptions{IncludeUsage: true}}})
		require.NoError(t, err)
		var chunks []openai.ChatCompletionChunk
		for s.Next() {
			chunks = append(chunks, s.Current())
		}
		// Err is nil only after [DONE]: a stream that ends without it
		// fails with a *ConnectionError.
		require.NoError(t, s.Err())
		require.NotEmpty(t, chunks)
		last := chunks[len(chunks)-1]
		require.Empty(t, last.Choices)
		require.NotNil(t, last.Usage)
		require.GreaterOrEqual(t, last.Usage.CompletionTokens, 1)
		require.LessOrEqual(t, last.Usage.CompletionTokens, n)
		text, finished := "", false
		for _, ch := range chunks {
			for _, x := range ch.Choices {
				if x.Delta.Content != nil {
					text += *x.Delta.Content
				}
				finished = finished || x.FinishReason != nil
			}
		}
		require.NotEmpty(t, text)
		require.True(t, finished, "no chunk carried a finish_reason")

		s2, err := c.ChatCompletionStream(t.Context(), openai.ChatCompletionRequest{Model: "scribe", Messages: msgs,
			Sampling: openai.Sampling{MaxTokens: ptr(200)}})
		require.NoError(t, err)
		require.True(t, s2.Next())
		require.NoError(t, s2.Close())
		require.False(t, s2.Next(), "a closed stream yields nothing more")
		body := rec.lastStream()
		require.NotNil(t, body)
		require.True(t, body.closed.Load(), "Close did not close the body")
		require.False(t, body.eof.Load(), "the stream was read to its end, not broken off")
		models, err := c.ListModels(t.Context())
		require.NoError(t, err, "the client still works after breaking off")
		require.NotEmpty(t, models)
	})

	t.Run("a job submitted and waited for", func(t *testing.T) {
		rec := &recorder{}
		c := liveClient(t, "", rec)
		// A backlog ahead of it keeps the job unfinished for a while, so
		// WaitJob has to poll rather than find it done at once.
		batch := make([]predict.Row, 1000)
		for i := range batch {
			batch[i] = row
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				_, err := c.SubmitJob(t.Context(), modelgate.JobRequest{Model: "iris", Inputs: batch})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		var resp *http.Response
		job, err := c.SubmitJob(t.Context(), modelgate.JobRequest{Model: "iris", Inputs: batch,
			Metadata: map[string]string{"order": "42"}}, modelgate.WithResponse(&resp))
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		require.True(t, strings.HasSuffix(resp.Header.Get("location"), job.ID), resp.Header.Get("location"))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		polls := len(rec.snapshot())
		done, err := c.WaitJob(ctx, job.ID, 20*time.Millisecond)
		require.NoError(t, err)
		t.Logf("WaitJob polled %d times", len(rec.snapshot())-polls)
		require.Equal(t, "succeeded", string(done.Status))
		require.Equal(t, map[string]string{"order": "42"}, done.Metadata)
		var result predict.V2Response
		require.NoError(t, json.Unmarshal(done.Result, &result))
		require.Len(t, result.Predictions, len(batch))
		found := false
		for j, err := range c.Jobs(t.Context(), modelgate.ListJobsParams{}) {
			require.NoError(t, err)
			if j.ID == job.ID {
				found = true
				break
			}
		}
		require.True(t, found, "the job is listed")
		_, err = c.CancelJob(t.Context(), job.ID)
		require.Equal(t, modelgate.TypeJobFinished, asAPIError(t, err).Type, "%v", err)
	})
}

func ptr[T any](v T) *T { return &v }

func asAPIError(t *testing.T, err error) *modelgate.APIError {
	t.Helper()
	var e *modelgate.APIError
	require.ErrorAs(t, err, &e)
	return e
}

// liveClient is a client of the stack; key "" means MODELGATE_API_KEY, rec
// (when set) records every answer.
func liveClient(t *testing.T, key string, rec *recorder, edit ...func(*modelgate.Config)) *modelgate.Client {
	t.Helper()
	cfg := modelgate.Config{APIKey: key}
	if rec != nil {
		cfg.HTTPClient = &http.Client{Transport: rec,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := modelgate.New(cfg)
	require.NoError(t, err)
	return c
}

// attempt is one answer the gateway gave.
type attempt struct {
	status int
	at     time.Time
	header http.Header
}

// recorder is an http.RoundTripper that notes every answer and wraps each
// event-stream body, to tell a stream broken off from one read to its end.
type recorder struct {
	mu       sync.Mutex
	attempts []attempt
	streams  []*trackedBody
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, attempt{status: resp.StatusCode, at: time.Now(), header: resp.Header})
	if strings.HasPrefix(resp.Header.Get("content-type"), "text/event-stream") {
		b := &trackedBody{ReadCloser: resp.Body}
		r.streams = append(r.streams, b)
		resp.Body = b
	}
	return resp, nil
}

func (r *recorder) snapshot() []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attempt(nil), r.attempts...)
}

func (r *recorder) lastStream() *trackedBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.streams) == 0 {
		return nil
	}
	return r.streams[len(r.streams)-1]
}

// trackedBody records whether its reader saw the end and whether it was closed.
type trackedBody struct {
	io.ReadCloser
	eof, closed atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return b.ReadCloser.Close()
}

// announcedWait is the wait a 429 asked for, as the SDK reads it.
func announcedWait(h http.Header) time.Duration {
	if ms, err := strconv.Atoi(h.Get("retry-after-ms")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if s, err := strconv.Atoi(h.Get("retry-after")); err == nil {
		return time.Duration(s) * time.Second
	}
	return 0
}

// TestLiveJobs submits a job to the jobs service and verifies its webhook;
// sdk/python/tests/test_jobs_live.py starts the service and runs it.
func TestLiveJobs(t *testing.T) {
	url, secret := os.Getenv("MODELGATE_SDK_JOBS_URL"), os.Getenv("MODELGATE_SDK_WEBHOOK_SECRET")
	if url == "" || secret == "" {
		t.Skip("needs the jobs service (sdk/python/tests/test_jobs_live.py)")
	}
	verified := make(chan error, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified <- modelgate.VerifyWebhook(body, r.Header, secret, time.Now(), 0)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	c, err := modelgate.New(modelgate.Config{APIKey: "unused", BaseURL: url})
	require.NoError(t, err)
	ctx := t.Context()
	row := predict.Row{"sepal_length": json.RawMessage("5.1"), "sepal_width": json.RawMessage("3.5"),
		"petal_length": json.RawMessage("1.4"), "petal_width": json.RawMessage("0.2")}
	client := modelgate.WithHeader("x-modelgate-client", "sdk-jobs")
	job, err := c.SubmitJob(ctx, modelgate.JobRequest{Model: "iris", Inputs: []predict.Row{row}, Webhook: rcv.URL + "/hook"}, client)
	require.NoError(t, err)
	done, err := c.WaitJob(ctx, job.ID, 100*time.Millisecond, client)
	require.NoError(t, err)
	require.Equal(t, "succeeded", string(done.Status))
	select {
	case err := <-verified:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook arrived")
	}
}
