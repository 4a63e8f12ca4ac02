package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Generator is one upstream model. It is safe for concurrent use.
type Generator struct {
	c     *Client
	base  string // base URL without a trailing slash
	model string // the upstream's model name
	key   string // the gateway's key for the upstream, "" for none
	gen   catalog.Generation
}

// ContextLength implements [llm.Generator]; the manifest states it.
func (g *Generator) ContextLength() int { return g.gen.ContextLength }

// MaxOutputTokens implements [llm.Generator]; the manifest states it.
func (g *Generator) MaxOutputTokens() int { return g.gen.MaxOutputTokens }

// CountPromptTokens implements [llm.Generator] with an estimate, as the
// upstream's tokenizer is its own: the content's bytes for the bytes
// tokenizer, else a quarter of them rounded up (about what BPE tokenizers
// give for English, and fewer than they give for most other text). The
// chat template is not counted, so the estimate errs low: the gateway
// refuses only prompts that surely do not fit, and the upstream refuses
// the rest. The upstream's own usage replaces the estimate when it sends
// one.
func (g *Generator) CountPromptTokens(req llm.Request) (int, error) {
	return g.count(len(req.Prompt) + contentBytes(req.Messages)), nil
}

func (g *Generator) count(bytes int) int {
	if g.gen.Tokenizer == catalog.TokenizerBytes {
		return bytes
	}
	return (bytes + 3) / 4
}

func contentBytes(msgs []llm.Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	return n
}

// Generate implements [llm.Generator]: one streamed call to
// {base_url}/chat/completions (or /completions for a prompt) with
// include_usage forced, each content delta emitted as it arrives. Failures
// are *llm.UpstreamError (a 429's Retry-After kept), llm.ErrPromptTooLong
// when the upstream says the context is exceeded, a wrapped
// context.DeadlineExceeded when the call outlives the timeout, or ctx's
// error when the caller gave up.
func (g *Generator) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	callCtx, cancel := context.WithTimeout(ctx, g.c.cfg.Timeout)
	defer cancel()
	res, err := g.call(callCtx, req, emit)
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, ctx.Err()
	case callCtx.Err() != nil:
		return res, fmt.Errorf("upstream: no complete answer within %s: %w", g.c.cfg.Timeout, context.DeadlineExceeded)
	}
	return res, err
}

func (g *Generator) call(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	path, body, err := g.body(req)
	if err != nil {
		return llm.Result{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+path, bytes.NewReader(body))
	if err != nil {
		return llm.Result{}, &llm.UpstreamError{Detail: "build request: " + err.Error()}
	}
	hr.Header.Set(header.ContentType, header.MediaJSON)
	hr.Header.Set("Accept", header.MediaEventStream)
	if g.key != "" {
		hr.Header.Set(header.Authorization, "Bearer "+g.key)
	}
	resp, err := g.c.hc.Do(hr)
	if err != nil {
		return llm.Result{}, &llm.UpstreamError{Detail: "unreachable: " + err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return llm.Result{}, failure(resp)
	}
	r := &reader{body: io.LimitReader(resp.Body, g.c.cfg.MaxResponseBytes+1), limit: g.c.cfg.MaxResponseBytes}
	st := &stream{emit: emit}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get(header.ContentType))
	if mt == header.MediaEventStream {
		err = st.events(r)
	} else {
		// A server that ignores stream answers one JSON object.
		err = st.whole(r)
	}
	if err != nil {
		return llm.Result{}, err
	}
	return g.result(req, st), nil
}

// body renders the upstream request: the sampling settings carried over,
// streaming with usage forced on.
func (g *Generator) body(req llm.Request) (string, []byte, error) {
	p := req.Params
	s := openai.Sampling{Stop: p.Stop, Stream: true, StreamOptions: &openai.StreamOptions{IncludeUsage: true}}
	if p.MaxTokens > 0 {
		s.MaxTokens = &p.MaxTokens
	}
	s.Temperature = &p.Temperature
	if p.TopP > 0 && p.TopP < 1 {
		s.TopP = &p.TopP
	}
	if p.HasSeed {
		seed := int64(p.Seed)
		s.Seed = &seed
	}
	var v any
	path := "/chat/completions"
	if req.Messages != nil {
		msgs := make([]openai.Message, len(req.Messages))
		for i, m := range req.Messages {
			msgs[i] = openai.Message{Role: m.Role, Content: m.Content}
			if m.Role == "developer" {
				// Older servers and chat templates know only system.
				msgs[i].Role = "system"
			}
		}
		v = openai.ChatCompletionRequest{Model: g.model, Messages: msgs, Sampling: s}
	} else {
		path = "/completions"
		v = openai.CompletionRequest{Model: g.model, Prompt: req.Prompt, Sampling: s}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", nil, fmt.Errorf("encode upstream request: %w", err)
	}
	return path, b, nil
}

// result counts the tokens. The upstream's usage is taken but not
// trusted blindly: what was seen streaming is a floor under it. Completion
// tokens are counted as bytes for the bytes tokenizer, else one per
// content delta (servers send at most one delta per token, so this never
// overcounts); without usage (llama.cpp's server sends none) prompt tokens
// are the estimate of [Generator.CountPromptTokens].
func (g *Generator) result(req llm.Request, st *stream) llm.Result {
	res := llm.Result{Finish: st.finish, CompletionTokens: st.pieces}
	if g.gen.Tokenizer == catalog.TokenizerBytes {
		res.CompletionTokens = st.bytes
	}
	res.PromptTokens, _ = g.CountPromptTokens(req)
	if st.usage != nil {
		res.PromptTokens = max(res.PromptTokens, st.usage.PromptTokens)
		res.CompletionTokens = max(res.CompletionTokens, st.usage.CompletionTokens)
	}
	return res
}

// maxErrorBytes bounds how much of a failed answer is read.
const maxErrorBytes = 64 << 10

// failure turns a non-200 answer into an error, keeping the OpenAI error
// message (cut short) and a 429's or 503's Retry-After.
func failure(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var eb openai.ErrorBody
	msg := http.StatusText(resp.StatusCode)
	if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
		msg = eb.Error.Message
		if eb.Error.Code != nil && *eb.Error.Code == openai.CodeContextLengthExceeded {
			return fmt.Errorf("%w: %s", llm.ErrPromptTooLong, cut(msg))
		}
	}
	ue := &llm.UpstreamError{Status: resp.StatusCode, Detail: cut(msg)}
	if s := resp.Header.Get(header.RetryAfter); s != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
			ue.RetryAfter = n
		}
	}
	return ue
}

// cut shortens an upstream message for errors and logs.
func cut(s string) string {
	const maxDetail = 512
	if len(s) > maxDetail {
		return s[:maxDetail] + "…"
	}
	return s
}

// reader counts what is read and fails past the limit.
type reader struct {
	body  io.Reader
	n     int64
	limit int64
}

var errTooLarge = errors.New("too large")

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.n += int64(n)
	if r.n > r.limit {
		return n, fmt.Errorf("upstream answer over %d bytes: %w", r.limit, errTooLarge)
	}
	return n, err
}

// scanner reads lines of at most 1 MiB.
func scanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return sc
}
