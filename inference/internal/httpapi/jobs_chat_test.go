package httpapi

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// newChatJobsServer serves the committed catalog's scribe 1 (the built-in
// model) and iris 2 with the jobs routes; withWorker starts scribe's
// worker with the chat runner.
func newChatJobsServer(t *testing.T, withWorker bool) *Server {
	t.Helper()
	var worker func(*atomic.Pointer[registry.Registry]) (string, jobs.Runner)
	if withWorker {
		worker = func(p *atomic.Pointer[registry.Registry]) (string, jobs.Runner) {
			return "scribe:1", jobs.NewChat(p, nil)
		}
	}
	return jobsTestServer(t, []config.Selection{{Model: "iris", Version: "2"}, {Model: "scribe", Version: "1"}},
		JobsConfig{MaxRows: 100, MaxBodyBytes: 1 << 20, Poll: 10 * time.Millisecond}, worker)
}

const chatJobBody = `{"model":"scribe:1","messages":[{"role":"user","content":"In the beginning"}],` +
	`"max_tokens":8,"temperature":0,"metadata":{"batch":"c1"}}`

func TestJobs_chatCompletion(t *testing.T) {
	t.Parallel()
	s := newChatJobsServer(t, true)
	res := do(t, s, "POST", "/v2/jobs", header.MediaJSON, chatJobBody, header.Client, "alice", "Prefer", "wait=20")
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	j := decodeJob(t, res)
	require.Equal(t, api.Succeeded, j.Status, string(res.body))
	require.Equal(t, "scribe", j.Model)
	require.Equal(t, "1", j.Version)
	require.Equal(t, "c1", j.Metadata["batch"])

	var cc openai.ChatCompletion
	require.NoError(t, json.Unmarshal(j.Result, &cc), string(j.Result))
	require.Equal(t, openai.ObjectChatCompletion, cc.Object)
	require.Equal(t, "scribe:1", cc.Model)
	require.Len(t, cc.Choices, 1)
	require.Equal(t, openai.RoleAssistant, cc.Choices[0].Message.Role)
	require.NotNil(t, cc.Usage)
	require.LessOrEqual(t, cc.Usage.CompletionTokens, 8, "max_tokens bounds the completion")
	require.Positive(t, cc.Usage.PromptTokens)

	require.NotNil(t, j.Usage.PromptTokens)
	require.NotNil(t, j.Usage.CompletionTokens)
	require.Equal(t, cc.Usage.PromptTokens, *j.Usage.PromptTokens)
	require.Equal(t, cc.Usage.CompletionTokens, *j.Usage.CompletionTokens)
	require.Equal(t, cc.Usage.TotalTokens, *j.Usage.TotalTokens)
	require.Zero(t, j.Usage.Rows)

	t.Run("the same body and seed give the route's text", func(t *testing.T) {
		res := do(t, s, "POST", "/v1/chat/completions", header.MediaJSON,
			`{"model":"scribe:1","messages":[{"role":"user","content":"In the beginning"}],"max_tokens":8,"temperature":0}`)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		var sync openai.ChatCompletion
		require.NoError(t, json.Unmarshal(res.body, &sync))
		require.Equal(t, sync.Choices[0].Message.Content, cc.Choices[0].Message.Content)
		require.Equal(t, sync.Usage, cc.Usage)
	})
}

func TestJobs_chatCancelQueued(t *testing.T) {
	t.Parallel()
	s := newChatJobsServer(t, false)
	j := decodeJob(t, do(t, s, "POST", "/v2/jobs", header.MediaJSON, chatJobBody, header.Client, "alice"))
	require.Equal(t, api.Queued, j.Status)
	require.Nil(t, j.Usage.PromptTokens, "tokens are reported once the job ran")
	res := do(t, s, "POST", "/v2/jobs/"+j.ID+"/cancel", "", "", header.Client, "alice")
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, api.Canceled, decodeJob(t, res).Status)
}

func TestJobs_chatRefusals(t *testing.T) {
	t.Parallel()
	s := newChatJobsServer(t, false)
	tests := []struct {
		name, body   string
		wantStatus   int
		wantType     string
		wantPointers []string
	}{
		{name: "refuses stream", body: `{"model":"scribe","messages":[{"role":"user","content":"hi"}],"stream":true}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/stream"}},
		{name: "refuses unknown members, as the predict form does",
			body:       `{"model":"scribe","messages":[{"role":"user","content":"hi"}],"inputs":[],"user":"u"}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs", "/user"}},
		{name: "refuses messages for a tabular model", body: `{"model":"iris","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantType: problem.TypeWrongModelKind},
		{name: "refuses inputs for a text-generation model", body: `{"model":"scribe","inputs":[` + irisRow + `]}`,
			wantStatus: 400, wantType: problem.TypeWrongModelKind},
		{name: "checks the messages as the chat route does", body: `{"model":"scribe","messages":[{"role":"robot","content":"hi"}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/messages/0/role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, s, "POST", "/v2/jobs", header.MediaJSON, tt.body, header.Client, "alice")
			p := requireProblem(t, res, tt.wantStatus, tt.wantType)
			for _, ptr := range tt.wantPointers {
				found := false
				for _, v := range p.Errors {
					found = found || v.Pointer == ptr
				}
				require.True(t, found, "no violation at %s in %s", ptr, res.body)
			}
		})
	}
}

func TestJobs_chatIdempotencyAndListing(t *testing.T) {
	t.Parallel()
	s := newChatJobsServer(t, false)
	first := do(t, s, "POST", "/v2/jobs", header.MediaJSON, chatJobBody, header.Client, "alice", "Idempotency-Key", "c1")
	require.Equal(t, http.StatusAccepted, first.status, string(first.body))
	again := do(t, s, "POST", "/v2/jobs", header.MediaJSON, chatJobBody, header.Client, "alice", "Idempotency-Key", "c1")
	require.Equal(t, http.StatusOK, again.status)
	require.Equal(t, decodeJob(t, first).ID, decodeJob(t, again).ID)
	other := do(t, s, "POST", "/v2/jobs", header.MediaJSON, chatJobBody[:len(chatJobBody)-1]+`,"seed":1}`,
		header.Client, "alice", "Idempotency-Key", "c1")
	requireProblem(t, other, http.StatusUnprocessableEntity, problem.TypeIdempotencyKeyReused)

	res := do(t, s, "GET", "/v2/jobs?status=queued", "", "", header.Client, "alice")
	require.Equal(t, http.StatusOK, res.status)
	var l api.List
	require.NoError(t, json.Unmarshal(res.body, &l))
	require.Len(t, l.Data, 1)
	require.Equal(t, "scribe", l.Data[0].Model)
	requireProblem(t, do(t, s, "GET", "/v2/jobs/"+l.Data[0].ID, "", "", header.Client, "bob"), http.StatusNotFound, problem.TypeNotFound)
}
