package modelgate_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/sdk/go/modelgate"
)

// TestLive runs against a stack through Envoy when MODELGATE_SDK_LIVE=1;
// sdk/python/tests/test_live.py starts the stack and runs it with a key in
// MODELGATE_API_KEY.
func TestLive(t *testing.T) {
	if os.Getenv("MODELGATE_SDK_LIVE") != "1" || os.Getenv("MODELGATE_API_KEY") == "" || os.Getenv("MODELGATE_SDK_JOBS_URL") != "" {
		t.Skip("live tests run with make test-sdk-live")
	}
	c, err := modelgate.New(modelgate.Config{})
	require.NoError(t, err)
	ctx := t.Context()
	row := predict.Row{"sepal_length": json.RawMessage("5.1"), "sepal_width": json.RawMessage("3.5"),
		"petal_length": json.RawMessage("1.4"), "petal_width": json.RawMessage("0.2")}
	out, err := c.Predict(ctx, predict.V2Request{Model: "iris", Inputs: []predict.Row{row}})
	require.NoError(t, err)
	require.Equal(t, "setosa", out.Predictions[0].Label)

	_, err = c.Predict(ctx, predict.V2Request{Model: "iris", Inputs: []predict.Row{{"sepal_length": json.RawMessage("5.1")}}})
	require.True(t, modelgate.IsValidation(err), "%v", err)
	_, err = c.Predict(ctx, predict.V2Request{Model: "no-such-model", Inputs: []predict.Row{row}})
	require.True(t, modelgate.IsNotFound(err), "%v", err)

	n := 8
	s, err := c.ChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "scribe",
		Messages: []openai.Message{{Role: "user", Content: "In the beginning"}}, Sampling: openai.Sampling{MaxTokens: &n}})
	require.NoError(t, err)
	chunks := 0
	for s.Next() {
		chunks++
	}
	require.NoError(t, s.Err())
	require.Positive(t, chunks)

	s2, err := c.ChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "scribe",
		Messages: []openai.Message{{Role: "user", Content: "In the beginning"}}})
	require.NoError(t, err)
	require.True(t, s2.Next())
	require.NoError(t, s2.Close())
	models, err := c.ListModels(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, models)
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
