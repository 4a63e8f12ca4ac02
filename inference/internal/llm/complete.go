package llm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/api/openai"
)

// ContextError is a prompt that leaves no room for a completion in the
// model's context window.
type ContextError struct{ Detail string }

func (e *ContextError) Error() string { return e.Detail }

// ChatRequest turns a decoded chat completion body into a generation
// request; MaxTokens is set by [Prepare].
func ChatRequest(req *openai.ChatCompletionRequest) Request {
	msgs := make([]Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = Message{Role: m.Role, Content: m.Content}
	}
	return Request{Messages: msgs, Params: ParamsOf(&req.Sampling)}
}

// ParamsOf carries the sampling settings of a body over; MaxTokens is set
// by [Prepare] once the model is known.
func ParamsOf(s *openai.Sampling) Params {
	var p Params
	if s.Temperature != nil {
		p.Temperature = *s.Temperature
	} else {
		p.Temperature = 1 // OpenAI's default
	}
	if s.TopP != nil {
		p.TopP = *s.TopP
	}
	if s.Seed != nil {
		p.Seed, p.HasSeed = uint64(*s.Seed), true
	}
	p.Stop = s.Stop
	return p
}

// Prepare counts req's prompt tokens, checks them against gen's context
// window (a *ContextError when they leave no room) and sets
// req.Params.MaxTokens from limit, the completion length asked for (0 for
// the model's default).
//
// A limit above the model's is capped, not refused: the gateway may
// inject a tier's cap that knows nothing of the model. The cap also keeps
// within the context window, so a quota reserved for the limit is never
// exceeded.
func Prepare(gen Generator, req *Request, limit int) (int, error) {
	prompt, err := gen.CountPromptTokens(*req)
	if errors.Is(err, ErrPromptTooLong) {
		return 0, &ContextError{Detail: err.Error()}
	}
	if err != nil {
		return 0, err
	}
	room := gen.ContextLength() - prompt
	if room < 1 {
		return 0, &ContextError{Detail: fmt.Sprintf(
			"the prompt is %d tokens; the model's context window of %d tokens leaves no room for a completion",
			prompt, gen.ContextLength())}
	}
	req.Params.MaxTokens = min(cmp.Or(limit, gen.MaxOutputTokens()), gen.MaxOutputTokens(), room)
	return prompt, nil
}

// Complete runs a prepared req to its end and returns the whole text;
// first, when set, is called when the first non-empty piece arrives. It
// stops when ctx ends (ctx.Err() is returned).
func Complete(ctx context.Context, gen Generator, req Request, first func()) (string, Result, error) {
	var sb strings.Builder
	res, err := gen.Generate(ctx, req, func(text string) error {
		if first != nil && sb.Len() == 0 && text != "" {
			first()
		}
		sb.WriteString(text)
		return nil
	})
	return sb.String(), res, err
}

// Finish is the finish reason of res, stop when the generator named none.
func Finish(res Result) string {
	if res.Finish == "" {
		return FinishStop
	}
	return res.Finish
}
