package jobs_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	api "github.com/modelgate/modelgate/api/jobs"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/catalog"
)

// wordGen emits "word " per token until MaxTokens; hold, when set, makes
// it wait for ctx to end after the first piece (a long generation).
type wordGen struct {
	hold    bool
	stopped atomic.Bool
}

func (g *wordGen) ContextLength() int   { return 64 }
func (g *wordGen) MaxOutputTokens() int { return 16 }
func (g *wordGen) CountPromptTokens(req llm.Request) (int, error) {
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	if n >= 64 {
		return 0, llm.ErrPromptTooLong
	}
	return n, nil
}

func (g *wordGen) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	p, _ := g.CountPromptTokens(req)
	for i := range req.Params.MaxTokens {
		if err := emit("w "); err != nil {
			return llm.Result{}, err
		}
		if g.hold && i == 0 {
			<-ctx.Done()
			g.stopped.Store(true)
			return llm.Result{}, ctx.Err()
		}
	}
	return llm.Result{PromptTokens: p, CompletionTokens: req.Params.MaxTokens, Finish: llm.FinishLength}, nil
}

func chatRegistry(t *testing.T, g llm.Generator) *atomic.Pointer[registry.Registry] {
	t.Helper()
	cat, err := catalog.Parse([]byte("default_model: iris\nmodels:\n  iris:\n    versions: [\"1\"]\n  scribe:\n    kind: llm\n    versions: [\"1\"]\n"))
	require.NoError(t, err)
	v := &registry.Version{Generator: g, Manifest: &catalog.Manifest{
		Name: "scribe", Version: "1", Format: "fake", Created: "2026-12-03",
		Output:     catalog.Output{Kind: catalog.KindText, Name: "text"},
		Generation: &catalog.Generation{ContextLength: 64, VocabSize: 256, Tokenizer: catalog.TokenizerBytes, MaxOutputTokens: 16},
	}}
	var p atomic.Pointer[registry.Registry]
	p.Store(registry.New(cat, v))
	return &p
}

func chatInput(t *testing.T, body string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jobs.ChatInput{RequestID: "req-1", Body: json.RawMessage(body)})
	require.NoError(t, err)
	return b
}

func TestChat_Run(t *testing.T) {
	t.Parallel()
	c := jobs.NewChat(chatRegistry(t, &wordGen{}), func() time.Time { return time.Unix(1_790_000_000, 0) })
	tests := []struct {
		name, body  string
		wantResult  string
		wantProblem string
		wantTokens  *jobs.Tokens
	}{
		{name: "answers the chat.completion object", body: `{"model":"scribe","messages":[{"role":"user","content":"hey"}],"max_tokens":2}`,
			wantResult: `{"id":"chatcmpl-req-1","object":"chat.completion","created":1790000000,"model":"scribe:1",
				"choices":[{"index":0,"message":{"role":"assistant","content":"w w "},"logprobs":null,"finish_reason":"length"}],
				"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`,
			wantTokens: &jobs.Tokens{Prompt: 3, Completion: 2}},
		{name: "caps max_tokens at the model's limit", body: `{"model":"scribe","messages":[{"role":"user","content":"hey"}],"max_tokens":900}`,
			wantTokens: &jobs.Tokens{Prompt: 3, Completion: 16}},
		{name: "fails a prompt past the context window",
			body:        `{"model":"scribe","messages":[{"role":"user","content":"` + string(make64()) + `"}]}`,
			wantProblem: "context-length-exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Run(t.Context(), "scribe", "1", chatInput(t, tt.body))
			require.NoError(t, err)
			if tt.wantProblem != "" {
				require.Contains(t, string(out.Problem), tt.wantProblem)
				return
			}
			require.Nil(t, out.Problem, string(out.Problem))
			if tt.wantResult != "" {
				require.JSONEq(t, tt.wantResult, string(out.Result))
			}
			var cc openai.ChatCompletion
			require.NoError(t, json.Unmarshal(out.Result, &cc))
			require.Equal(t, tt.wantTokens, out.Tokens)
		})
	}
}

func make64() []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func TestWorker_ChatJobUsage(t *testing.T) {
	t.Parallel()
	p := chatRegistry(t, &wordGen{})
	s := jobs.NewStore(jobs.Config{}, startRedis(t))
	j, _, err := s.Create(t.Context(), jobs.NewJob{Owner: "alice", Model: "scribe", Version: "1",
		Input: chatInput(t, `{"model":"scribe","messages":[{"role":"user","content":"hey"}],"max_tokens":4}`)})
	require.NoError(t, err)
	startWorkerCfg(t, s, jobs.NewChat(p, nil), jobs.WorkerConfig{Consumer: "w", Model: "scribe"})
	got := waitStatus(t, s, "alice", j.ID, api.Succeeded)
	require.NotNil(t, got.Usage.PromptTokens)
	require.Equal(t, 3, *got.Usage.PromptTokens)
	require.Equal(t, 4, *got.Usage.CompletionTokens)
	require.Equal(t, 7, *got.Usage.TotalTokens)
}

func TestWorker_CancelStopsRunningChat(t *testing.T) {
	t.Parallel()
	g := &wordGen{hold: true}
	s := jobs.NewStore(jobs.Config{}, startRedis(t))
	j, _, err := s.Create(t.Context(), jobs.NewJob{Owner: "alice", Model: "scribe", Version: "1",
		Input: chatInput(t, `{"model":"scribe","messages":[{"role":"user","content":"hey"}]}`)})
	require.NoError(t, err)
	startWorkerCfg(t, s, jobs.NewChat(chatRegistry(t, g), nil), jobs.WorkerConfig{Consumer: "w", Model: "scribe"})
	waitStatus(t, s, "alice", j.ID, api.Running)
	_, err = s.Cancel(t.Context(), "alice", j.ID)
	require.NoError(t, err)
	require.Eventually(t, g.stopped.Load, 5*time.Second, 10*time.Millisecond, "the generation stops once the job is canceled")
	got := waitStatus(t, s, "alice", j.ID, api.Canceled)
	require.Nil(t, got.Result)
}
