package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/catalog"
)

// GenerationSource knows each text-generation version's manifest
// generation block (read once per catalog load).
type GenerationSource interface {
	// Generation returns the generation block of a concrete version of
	// the catalog c, or nil when unknown or c is no longer in force.
	Generation(c *catalog.Catalog, model, version string) *catalog.Generation
}

// LLMConfig are the dependencies of the text-generation processors.
type LLMConfig struct {
	Catalog     CatalogSource
	Generations GenerationSource
	Validator   *policy.Validator
	// MaxTokens caps the completion length per tier; a request asking for
	// more (or for nothing) is given the cap. A tier not listed is capped
	// only by the model.
	MaxTokens map[string]int
	// LeanStream answers without the response-headers message (see
	// llm_response.go); it needs the rendered bootstrap's version routes.
	LeanStream   bool
	MaxBodyBytes int64
	// Now defaults to time.Now.
	Now func() time.Time
}

// Dynamic metadata the text-generation routes leave for Envoy: the tokens
// to charge to the client's token quotas when the stream ends (read by the
// ratelimit filter's hits_addend, envoy/README.md).
const (
	TokensNamespace = "modelgate.tokens"
	// TokensCharge is what the stream-done ratelimit call adds: the
	// completion tokens plus the prompt tokens the admission did not
	// reserve.
	TokensCharge = "charge"
)

// NewChatCompletions returns the [Factory] of POST /v1/chat/completions.
func NewChatCompletions(cfg LLMConfig, a *Admission) Factory { return newLLM(cfg, a, true) }

// NewCompletions returns the [Factory] of POST /v1/completions.
func NewCompletions(cfg LLMConfig, a *Admission) Factory { return newLLM(cfg, a, false) }

func newLLM(cfg LLMConfig, a *Admission, chat bool) Factory {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return func(r *Request) Processor { return &llm{cfg: &cfg, adm: a, req: r, chat: chat} }
}

// llm admits a text-generation request: it resolves the model named in the
// body, reserves the prompt's tokens with the request quotas in the one
// quota call, caps the completion length for the client's tier, asks for
// usage in the stream, and routes. The response is watched for the usage
// the model reports, which is charged when the stream ends.
type llm struct {
	cfg  *LLMConfig
	adm  *Admission
	req  *Request
	chat bool

	headerVersion string
	partial       []byte
	// reserved are the prompt tokens counted on admission.
	reserved int
	out      sseState
}

var _ Processor = (*llm)(nil)

// RequestHeaders implements [Processor.RequestHeaders].
func (p *llm) RequestHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	hs := Headers(h)
	p.headerVersion = hs.Get(header.ModelVersion)
	if h.GetEndOfStream() {
		return nil, &policy.MalformedError{Err: errors.New("the request has no body")}
	}
	if err := policy.CheckMediaType(hs.Get(header.ContentType)); err != nil {
		return nil, err
	}
	if n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64); err == nil {
		if err := policy.CheckSize(n, p.cfg.MaxBodyBytes); err != nil {
			return nil, err
		}
	}
	resp := requestHeadersResponse(nil)
	if p.cfg.LeanStream {
		p.out.lean = true
		resp.ModeOverride = skipResponseHeaders(p.req, extprocfilterv3.ProcessingMode_STREAMED)
	}
	return resp, nil
}

// RequestBody implements [Processor.RequestBody].
func (p *llm) RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.RequestBytes += int64(len(b.GetBody()))
	if err := policy.CheckSize(p.req.RequestBytes, p.cfg.MaxBodyBytes); err != nil {
		return nil, err
	}
	raw := b.GetBody()
	if streamed(p.req.RequestBodyMode) {
		p.partial = append(p.partial, raw...)
		if !b.GetEndOfStream() {
			return requestBodyResponse(nil), nil
		}
		raw = p.partial
	}
	return p.processBody(ctx, raw)
}

// processBody decodes the body, resolves and admits, and answers with the
// routing headers and, when the gateway changed it, the new body.
func (p *llm) processBody(ctx context.Context, raw []byte) (*extprocv3.ProcessingResponse, error) {
	parsed, err := p.cfg.Validator.Decode(raw)
	if err != nil {
		return nil, err
	}
	doc, ok := parsed.(map[string]any)
	if !ok {
		return nil, violation("", "the body must be a JSON object")
	}
	id, ok := doc["model"].(string)
	if !ok || id == "" {
		return nil, violation("/model", "required: the id of a text-generation model, as GET /v1/models lists them")
	}
	c := p.cfg.Catalog.Catalog()
	name, version := routing.SplitModelID(id)
	t, resolveErr := routing.ResolveFor(c, p.req.subject(), name, p.headerVersion, version)
	prompt, vs := p.promptBytes(doc)
	// Counted before anything else is checked, as on the prediction
	// routes; the prompt's tokens are reserved in the same call.
	p.req.Target.Model = name
	if resolveErr == nil && p.adm.allows(p.req.KeyID, name) {
		p.reserved = p.reservation(c, t, prompt)
		p.out.promptEstimate = p.reserved
		p.req.Tokens.Reserved = p.reserved
		err = p.adm.Admit(ctx, p.req, &t)
		if !p.req.admitted {
			// Quotas are counted by Envoy's filters (the ext_authz
			// chain): nothing was reserved, the whole prompt is charged
			// at the end.
			p.reserved, p.req.Tokens.Reserved = 0, 0
		}
	} else {
		err = p.adm.Admit(ctx, p.req, nil)
	}
	if err != nil {
		return nil, err
	}
	if err := p.adm.checkScope(p.req); err != nil {
		return nil, err
	}
	if resolveErr != nil {
		return nil, resolveErr
	}
	if m := c.Models[name]; m == nil || !m.IsLLM() {
		return nil, violation("/model", fmt.Sprintf("model %q does not generate text; it serves /v2/predict", name))
	}
	if len(vs) > 0 {
		return nil, &policy.ViolationsError{Violations: vs}
	}
	p.req.Target = t
	changed, err := p.shape(doc, c, t)
	if err != nil {
		return nil, err
	}
	resp := routeWithBody(p.req, changed)
	if p.out.lean {
		leaveAnswerHeaders(p.req, resp, header.ModelVersion, t.Version)
	}
	return resp, nil
}

// routeWithBody is the request-body answer that routes r to its target,
// replacing the body with changed (and its content-length) when the
// gateway rewrote it; nil leaves the body as it came.
func routeWithBody(r *Request, changed []byte) *extprocv3.ProcessingResponse {
	common := routeTo(r)
	if changed != nil {
		m := Mutation{m: common.HeaderMutation}
		m.Set(header.ContentLength, strconv.Itoa(len(changed)))
		common.HeaderMutation = m.Proto()
		common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: changed}}
	}
	return requestBodyResponse(common)
}

// violation is a one-place validation error.
func violation(pointer, detail string) error {
	return &policy.ViolationsError{Violations: []problem.Violation{{Pointer: pointer, Detail: detail}}}
}

// promptBytes is the size of the text the client sends the model: the
// message contents of a chat, the prompt of a completion. The shapes it
// cannot read are reported as violations (after admission).
func (p *llm) promptBytes(doc map[string]any) (int, []problem.Violation) {
	if !p.chat {
		switch v := doc["prompt"].(type) {
		case string:
			return len(v), nil
		case []any:
			n := 0
			for i, s := range v {
				str, ok := s.(string)
				if !ok {
					return 0, []problem.Violation{{Pointer: "/prompt/" + strconv.Itoa(i), Detail: "must be a string"}}
				}
				n += len(str)
			}
			return n, nil
		}
		return 0, []problem.Violation{{Pointer: "/prompt", Detail: "required: a string or an array of strings"}}
	}
	msgs, ok := doc["messages"].([]any)
	if !ok || len(msgs) == 0 {
		return 0, []problem.Violation{{Pointer: "/messages", Detail: "required: a non-empty array of messages"}}
	}
	n := 0
	var vs []problem.Violation
	for i, m := range msgs {
		at := "/messages/" + strconv.Itoa(i)
		msg, ok := m.(map[string]any)
		if !ok {
			vs = append(vs, problem.Violation{Pointer: at, Detail: "must be an object with role and content"})
			continue
		}
		switch c := msg["content"].(type) {
		case string:
			n += len(c)
		case []any:
			for j, part := range c {
				obj, isMap := part.(map[string]any)
				if !isMap {
					vs = append(vs, problem.Violation{Pointer: at + "/content/" + strconv.Itoa(j), Detail: "must be a content part object"})
					continue
				}
				text, _ := obj["text"].(string)
				n += len(text)
			}
		case nil:
		default:
			vs = append(vs, problem.Violation{Pointer: at + "/content", Detail: "must be a string or an array of content parts"})
		}
	}
	return n, vs
}

// reservation is what the admission counts of the prompt. With the byte
// tokenizer a prompt's text is exactly as many tokens as bytes (the chat
// template only adds to it), so the reservation never exceeds what the
// model reports; with another tokenizer (an upstream's) a quarter of the
// bytes is reserved, a common bytes-per-token ratio, and the rest is
// charged at the end.
func (p *llm) reservation(c *catalog.Catalog, t routing.Target, promptBytes int) int {
	p.out.bytesPerToken = 4
	if g := p.cfg.Generations.Generation(c, t.Model, t.Version); g != nil && g.Tokenizer == catalog.TokenizerBytes {
		p.out.bytesPerToken = 1
	}
	return promptBytes / p.out.bytesPerToken
}

// shape applies the gateway's rules to the body: the completion length is
// capped for the client's tier (and set when absent), and a stream is
// asked to report usage (which is what is charged). It returns the new
// body, or nil when nothing changed.
func (p *llm) shape(doc map[string]any, c *catalog.Catalog, t routing.Target) ([]byte, error) {
	changed := false
	field := "max_tokens"
	if _, ok := doc["max_completion_tokens"]; ok {
		field = "max_completion_tokens"
	}
	asked := 0
	if v, ok := doc[field]; ok && v != nil { // null, as the schema allows, asks for nothing
		n, exact, ok := positiveInt(v)
		if !ok {
			return nil, violation("/"+field, "must be a positive integer")
		}
		asked = n
		if !exact { // 8.0: a JSON Schema integer; the model server gets 8
			doc[field] = n
			changed = true
		}
	}
	limit := p.tokenCap(c, t)
	if limit > 0 && (asked == 0 || asked > limit) {
		doc[field] = limit
		changed = true
	}
	p.out.stream = doc["stream"] == true
	if p.out.stream {
		opts, _ := doc["stream_options"].(map[string]any)
		if opts == nil {
			if v, present := doc["stream_options"]; present && v != nil {
				return nil, violation("/stream_options", "must be an object")
			}
			opts = map[string]any{}
		}
		p.out.clientUsage = opts["include_usage"] == true
		if !p.out.clientUsage {
			opts["include_usage"] = true
			doc["stream_options"] = opts
			changed = true
		}
	}
	if !changed {
		return nil, nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode the shaped body: %w", err)
	}
	return b, nil
}

// tokenCap is the most completion tokens the client's tier may ask of the
// version: the tier's llm.max_tokens or the model's max_output_tokens,
// whichever is smaller; 0 when neither is known.
func (p *llm) tokenCap(c *catalog.Catalog, t routing.Target) int {
	limit := p.cfg.MaxTokens[p.req.Tier]
	if g := p.cfg.Generations.Generation(c, t.Model, t.Version); g != nil && (limit == 0 || g.MaxOutputTokens < limit) {
		limit = g.MaxOutputTokens
	}
	return limit
}

// completionTokens is the completion length the request will be given
// once [llm.shape] caps it: what it asks for within the cap, the cap when
// it asks for nothing (0 when there is no cap either).
func (p *llm) completionTokens(doc map[string]any, c *catalog.Catalog, t routing.Target) int {
	asked := 0
	for _, field := range []string{"max_completion_tokens", "max_tokens"} {
		if v, ok := doc[field]; ok {
			asked, _, _ = positiveInt(v)
			break
		}
	}
	limit := p.tokenCap(c, t)
	if limit > 0 && (asked <= 0 || asked > limit) {
		return limit
	}
	return max(asked, 0)
}

// positiveInt reads a JSON integer >= 1.
func positiveInt(v any) (n int, exact, ok bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false, false
	}
	if i, err := strconv.ParseInt(num.String(), 10, 32); err == nil {
		return int(i), true, i >= 1
	}
	// JSON Schema's integer is any number without a fraction: 8.0 and 8e0
	// are 8.
	f, err := strconv.ParseFloat(num.String(), 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
		return 0, false, false
	}
	return int(f), false, true
}
