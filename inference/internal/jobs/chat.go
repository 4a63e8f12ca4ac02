package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// ChatInput is what a chat completion job stores to run: the submitted
// body (read as /v1/chat/completions reads it; the job's own members are
// ignored there) and the id of the request that submitted it, which names
// the completion.
type ChatInput struct {
	RequestID string          `json:"request_id"`
	Body      json.RawMessage `json:"body"`
}

// Chat runs chat completion jobs with the generation code of
// /v1/chat/completions ([llm.Prepare], [llm.Complete]): the result is the
// chat.completion object the route answers when not streaming.
type Chat struct {
	reg *atomic.Pointer[registry.Registry]
	now func() time.Time
}

// NewChat returns the runner over the registry (which a reload may swap);
// now nil means time.Now.
func NewChat(reg *atomic.Pointer[registry.Registry], now func() time.Time) *Chat {
	if now == nil {
		now = time.Now
	}
	return &Chat{reg: reg, now: now}
}

var _ Runner = (*Chat)(nil)

// Run implements [Runner.Run]. A canceled job's ctx ends the generation;
// ctx.Err() is returned then.
func (c *Chat) Run(ctx context.Context, model, version string, input json.RawMessage) (Outcome, error) {
	var in ChatInput
	if err := json.Unmarshal(input, &in); err != nil {
		return Outcome{}, fmt.Errorf("decode job input: %w", err)
	}
	req, err := openai.DecodeChatRequest(in.Body, openai.DefaultLimits)
	var re *openai.RequestError
	if errors.As(err, &re) {
		return Outcome{Problem: problemJSON(problem.TypeValidation, 400, "Validation failed", re.Error(), re.Violations)}, nil
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("decode chat body: %w", err)
	}
	v, err := c.reg.Load().Resolve(model, version)
	if err != nil {
		return Outcome{Problem: problemJSON(problem.TypeUnknownVersion, 404, "Unknown model version", err.Error(), nil)}, nil
	}
	gen := v.Generator
	if gen == nil {
		return Outcome{Problem: problemJSON(problem.TypeWrongModelKind, 400, "Wrong model kind",
			fmt.Sprintf("model %q version %q does not generate text", v.Name(), v.ID()), nil)}, nil
	}
	lr := llm.ChatRequest(req)
	prompt, err := llm.Prepare(gen, &lr, req.Limit())
	var ce *llm.ContextError
	if errors.As(err, &ce) {
		return Outcome{Problem: problemJSON(problem.TypeContextLength, 400, "Context length exceeded", ce.Detail,
			[]problem.Violation{{Pointer: "/messages", Detail: ce.Detail}})}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	created := c.now().Unix()
	text, res, err := llm.Complete(ctx, gen, lr, nil)
	var ue *llm.UpstreamError
	if errors.As(err, &ue) {
		return Outcome{Problem: problemJSON(problem.TypeUpstream, 502, "Upstream failed", ue.Error(), nil)}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if res.PromptTokens > 0 {
		prompt = res.PromptTokens // an upstream's own count
	}
	u := openai.NewUsage(prompt, res.CompletionTokens)
	out, err := json.Marshal(openai.NewChatCompletion("chatcmpl-"+in.RequestID, created, v.Name()+":"+v.ID(), text, llm.Finish(res), u))
	if err != nil {
		return Outcome{}, fmt.Errorf("encode result: %w", err)
	}
	return Outcome{Result: out, Tokens: &Tokens{Prompt: prompt, Completion: res.CompletionTokens}}, nil
}
