package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/tracing"
)

// NewJobs returns the [Factory] of POST /v2/jobs. A body with inputs is a
// prediction request under the jobs' limits, handled as /v2/predict
// handles one; a body with messages is a chat completion job, admitted as
// /v1/chat/completions admits a request (see [jobs.chatJob]). Either is
// routed to the version it names, and its answer (a job) is never cached
// or read for usage.
func NewJobs(cfg PredictConfig, limits Limits, chat LLMConfig, a *Admission) Factory {
	cfg.Cache = CacheConfig{}
	cfg.Limits = limits
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if chat.Now == nil {
		chat.Now = time.Now
	}
	return func(r *Request) Processor {
		return &jobs{
			predict: &predict{cfg: &cfg, adm: a, req: r, route: &jobsRoute},
			chat:    &llm{cfg: &chat, adm: a, req: r, chat: true},
		}
	}
}

// jobs is the processor of POST /v2/jobs: the prediction processor, whose
// phases it keeps but for the request body, where a chat completion job
// takes the text-generation rules instead.
type jobs struct {
	*predict
	chat *llm
}

var _ Processor = (*jobs)(nil)

// RequestBody implements [Processor.RequestBody]: the body is decoded
// within the jobs' bound once, then handled by its form.
func (p *jobs) RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	raw, whole, err := p.collect(b)
	if err != nil {
		return nil, err
	}
	if !whole {
		return requestBodyResponse(nil), nil
	}
	decoded, err := p.decode(raw)
	if err != nil {
		return nil, err
	}
	if _, ok := decoded.doc["messages"]; ok {
		// A chat body is bounded as on the chat route, not by the jobs'
		// row-sized limit.
		if limit := p.chat.cfg.MaxBodyBytes; limit > 0 {
			if err := policy.CheckSize(p.req.RequestBytes, limit); err != nil {
				return nil, err
			}
		}
		return p.chatJob(ctx, decoded)
	}
	return p.processDecoded(ctx, decoded)
}

// chatJob admits a chat completion job: the model is resolved as the chat
// route resolves it, and the one quota call reserves the prompt's tokens
// (as the chat route counts them) plus the completion length after the
// tier's cap. That is the whole charge: the job's answer is a job object,
// so no usage is read from the response, and a completion shorter than
// its max_tokens is not refunded. When the plugin makes no quota call
// (the ext_authz chain) the same amount is left in dynamic metadata for
// Envoy's stream-done token call. The body is then checked against
// ChatJobRequest, the key's scope and the model's kind, max_tokens is
// capped for the tier, and the request routed.
func (p *jobs) chatJob(ctx context.Context, b body) (*extprocv3.ProcessingResponse, error) {
	l, doc := p.chat, b.doc
	id, _ := doc["model"].(string)
	c := p.cfg.Catalog.Catalog()
	name, version := routing.SplitModelID(id)
	t, resolveErr := routing.Resolve(c, name, p.in.headerVersion, version)
	m := c.Models[name]
	text := m != nil && m.IsLLM()
	p.req.Target.Model = name
	charge := 0
	var err error
	if resolveErr == nil && text && p.adm.allows(p.req.KeyID, name) {
		prompt, _ := l.promptBytes(doc)
		charge = l.reservation(c, t, prompt) + l.completionTokens(doc, c, t)
		p.req.Tokens.Reserved = charge
		err = p.adm.Admit(ctx, p.req, &t)
		if p.req.admitted {
			charge = 0 // reserved in the plugin's quota call
		} else {
			p.req.Tokens.Reserved = 0
		}
	} else {
		err = p.adm.Admit(ctx, p.req, nil)
	}
	if err != nil {
		return nil, err
	}
	if doc["stream"] == true {
		return nil, violation("/stream", "a job is not streamed: its result is the whole chat.completion; "+
			"stream with POST /v1/chat/completions, or leave stream out")
	}
	_, endValidate := tracing.Span(ctx, "validate")
	err = p.cfg.Validator.Check(policy.ChatJobRequest, b.parsed)
	endValidate(err)
	if err != nil {
		return nil, err
	}
	if err := p.adm.checkScope(p.req); err != nil {
		return nil, err
	}
	if resolveErr != nil {
		return nil, resolveErr
	}
	if !text {
		return nil, violation("/model", fmt.Sprintf("model %q does not generate text: a job for it has inputs, not messages", name))
	}
	p.req.Target = t
	changed, err := l.shape(doc, c, t)
	if err != nil {
		return nil, err
	}
	resp := routeWithBody(p.req, changed)
	if charge > 0 {
		var md DynamicMetadata
		md.SetString(TokensNamespace, TokensCharge, strconv.Itoa(charge))
		md.AddTo(resp)
	}
	return resp, nil
}
