package processor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/tracing"
)

// CatalogSource returns the model catalog in force; it may change between
// calls (reloads).
type CatalogSource interface {
	Catalog() *catalog.Catalog
}

// FeatureSource knows each model version's input features (from the
// manifests, read once per catalog load).
type FeatureSource interface {
	// Features returns the feature set of a concrete version of the
	// catalog c, or nil when unknown or when c is no longer in force.
	Features(c *catalog.Catalog, model, version string) *policy.Features
}

// PredictConfig are the dependencies of the prediction processors.
type PredictConfig struct {
	Catalog CatalogSource
	// Features is nil when rows are checked against the schema only (and
	// inference checks the features).
	Features  FeatureSource
	Validator *policy.Validator
	// ValidBodies remembers bodies that passed their schema; nil
	// validates every body.
	ValidBodies *policy.Memo
	Cache       CacheConfig
	Limits      Limits
	// Now defaults to time.Now.
	Now func() time.Time
}

// CacheConfig is the response cache's part in the prediction routes.
type CacheConfig struct {
	// Store is nil when response caching is off.
	Store *cache.Store
	// ShareAcrossClients keys entries without the client id, so clients
	// see each other's cached answers.
	ShareAcrossClients bool
	// MaxEntryBytes skips storing larger responses.
	MaxEntryBytes int64
	// LeanFill answers misses without their response headers (see
	// [predict.leanFill]).
	LeanFill bool
}

// NewV1Predict returns the [Factory] of POST /v1/predict.
func NewV1Predict(cfg PredictConfig, a *Admission) Factory { return newPredict(cfg, a, &v1Route) }

// NewV2Predict returns the [Factory] of POST /v2/predict.
func NewV2Predict(cfg PredictConfig, a *Admission) Factory { return newPredict(cfg, a, &v2Route) }

// NewInfer returns the [Factory] of POST
// /v2/models/{model}[/versions/{v}]/infer.
func NewInfer(cfg PredictConfig, a *Admission) Factory { return newPredict(cfg, a, &inferRoute) }

func newPredict(cfg PredictConfig, a *Admission, route *predictRoute) Factory {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return func(r *Request) Processor { return &predict{cfg: &cfg, adm: a, req: r, route: route} }
}

// predict validates a prediction request, resolves the model version Envoy
// routes to, and serves or fills the response cache. Its state is kept by
// phase: what the request said (in), the cache's part (cache), the
// response being stored (out).
type predict struct {
	cfg   *PredictConfig
	adm   *Admission
	req   *Request
	route *predictRoute

	in    requestState
	cache cacheState
	out   responseState
}

// requestState is what the request headers said, and the body so far.
type requestState struct {
	// headerVersion is the x-model-version request header.
	headerVersion string
	// headerLength is the inference-header-content-length of a binary
	// Open Inference Protocol request, "" for a JSON one.
	headerLength string
	// partial collects request body chunks when Envoy streams them.
	partial []byte
}

var _ Processor = (*predict)(nil)

// RequestHeaders implements [Processor.RequestHeaders]: everything that
// can be refused before the body arrives is refused here.
func (p *predict) RequestHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	hs := Headers(h)
	p.in.headerVersion = hs.Get(header.ModelVersion)
	p.cache.noLookup, p.cache.noStore = cache.Directives(hs.Get(header.CacheControl))
	if h.GetEndOfStream() {
		// No body will ever come (Envoy sends no body message after
		// headers with end_of_stream), so answer now.
		return nil, &policy.MalformedError{Err: errors.New("the request has no body")}
	}
	if p.route.oip {
		p.in.headerLength = hs.Get(header.InferenceHeaderContentLength)
		if err := policy.CheckInferMediaType(hs.Get(header.ContentType), p.in.headerLength != ""); err != nil {
			return nil, err
		}
	} else if err := policy.CheckMediaType(hs.Get(header.ContentType)); err != nil {
		return nil, err
	}
	if n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64); err == nil {
		if err := policy.CheckSize(n, p.cfg.Limits.MaxBodyBytes); err != nil {
			return nil, err
		}
	}
	resp := requestHeadersResponse(nil)
	p.leanFill(resp)
	return resp, nil
}

// RequestBody implements [Processor.RequestBody]. In BUFFERED mode the
// whole body is one message; its end_of_stream is false when trailers
// follow, so the body is processed whatever end_of_stream says. Only when
// Envoy is configured to stream the body are chunks collected until the
// last.
func (p *predict) RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	body, whole, err := p.collect(b)
	if err != nil {
		return nil, err
	}
	if !whole {
		return requestBodyResponse(nil), nil
	}
	return p.processBody(ctx, body)
}

// collect adds a body message to what the request sent so far; whole is
// true once the body is complete (always in BUFFERED mode).
func (p *predict) collect(b *extprocv3.HttpBody) (body []byte, whole bool, err error) {
	p.req.RequestBytes += int64(len(b.GetBody()))
	if err := policy.CheckSize(p.req.RequestBytes, p.cfg.Limits.MaxBodyBytes); err != nil {
		return nil, false, err
	}
	body = b.GetBody()
	if streamed(p.req.RequestBodyMode) {
		p.in.partial = append(p.in.partial, body...)
		if !b.GetEndOfStream() {
			return nil, false, nil
		}
		body = p.in.partial
	}
	return body, true, nil
}

func streamed(m extprocfilterv3.ProcessingMode_BodySendMode) bool {
	return m == extprocfilterv3.ProcessingMode_STREAMED || m == extprocfilterv3.ProcessingMode_FULL_DUPLEX_STREAMED
}

// body is a decoded prediction request body.
type body struct {
	// head is the JSON the schema sees: the whole body, or the JSON header
	// of a binary Open Inference Protocol body.
	head []byte
	// tail is the binary tensor data after the JSON header.
	tail   []byte
	parsed any
	// doc is parsed as an object (the schemas only admit objects).
	doc map[string]any
}

// processBody answers the whole request body: it decodes the body,
// resolves the target, counts the request against its quotas, validates
// the body, checks the rows, the key's scope and the rows' features, and
// then routes the request or answers it from the cache. Schema and feature
// violations are answered together (see [predict.withFeatures]).
func (p *predict) processBody(ctx context.Context, raw []byte) (*extprocv3.ProcessingResponse, error) {
	b, err := p.decode(raw)
	if err != nil {
		return nil, err
	}
	return p.processDecoded(ctx, b)
}

// processDecoded is [predict.processBody] after the body was decoded.
func (p *predict) processDecoded(ctx context.Context, b body) (*extprocv3.ProcessingResponse, error) {
	c := p.cfg.Catalog.Catalog()
	model, version := p.route.target(c, p.req.Match, b.doc)
	t, resolveErr := routing.ResolveFor(c, p.req.subject(), model, p.in.headerVersion, version)
	// Counted before the body is validated: an over-quota request costs
	// no schema validation, and cache hits count.
	if err := p.admit(ctx, t, resolveErr); err != nil {
		return nil, err
	}
	_, endValidate := tracing.Span(ctx, "validate")
	err := p.validate(b)
	endValidate(err)
	if err != nil {
		return nil, err
	}
	// The scope is checked on the name the body gives, before anything
	// about the model is revealed: a key may not learn from a 404 which
	// versions (or models) exist beyond those it may use.
	p.req.Target.Model = model
	if err := p.adm.checkScope(p.req); err != nil {
		return nil, err
	}
	if resolveErr != nil {
		return nil, resolveErr
	}
	if m := c.Models[model]; p.route.tabularOnly && m != nil && m.IsLLM() {
		return nil, violation("/model", fmt.Sprintf("model %q generates text: a job for it has messages (a chat completion body), not inputs", model))
	}
	p.req.Target = t
	if vs := p.featureViolations(c, t, b.doc); len(vs) > 0 {
		return nil, &policy.ViolationsError{Violations: policy.MergeViolations(nil, vs)}
	}
	if p.cfg.Cache.Store == nil {
		return requestBodyResponse(routeTo(p.req)), nil
	}
	cctx, endCache := tracing.Span(ctx, "cache")
	resp, err := p.consultCache(cctx, b.doc, b.tail)
	endCache(err)
	if err == nil && p.out.lean && resp.GetRequestBody() != nil {
		p.leaveHeaders(resp)
	}
	return resp, err
}

// decode splits a binary Open Inference Protocol body first (the schema
// sees only its JSON header) and parses the JSON.
func (p *predict) decode(raw []byte) (body, error) {
	b := body{head: raw}
	if p.in.headerLength != "" {
		var err error
		if b.head, b.tail, err = policy.SplitBinaryInfer(raw, p.in.headerLength); err != nil {
			return body{}, err
		}
	}
	parsed, err := p.cfg.Validator.DecodeWithin(b.head, p.cfg.Limits.MaxDocumentBytes)
	if err != nil {
		return body{}, err
	}
	b.parsed = parsed
	b.doc, _ = parsed.(map[string]any)
	return b, nil
}

// validate checks the body against the route's schema (unless an identical
// body passed before), the binary tail against what the inputs'
// binary_data_size announce, and the rows against max_rows.
func (p *predict) validate(b body) error {
	if known, key := p.cfg.ValidBodies.Passed(p.route.schema, b.head); !known {
		if err := p.cfg.Validator.Check(p.route.schema, b.parsed); err != nil {
			var schema *policy.ViolationsError
			if errors.As(err, &schema) {
				// One answer lists every violation: the schema's and,
				// when the body says which version it is for, the
				// features'.
				return p.withFeatures(schema, b.doc)
			}
			return err
		}
		p.cfg.ValidBodies.Remember(key)
	}
	if p.route.oip {
		if err := policy.CheckBinaryData(b.doc, len(b.tail)); err != nil {
			return err
		}
	}
	p.req.Rows = p.route.rows(b.doc)
	return policy.CheckRows(p.req.Rows, p.cfg.Limits.MaxRows)
}

// admit counts the request against its quotas, the per-model one too when
// the body names a version the key may use.
func (p *predict) admit(ctx context.Context, t routing.Target, resolveErr error) error {
	if resolveErr != nil || !p.adm.allows(p.req.KeyID, t.Model) {
		return p.adm.Admit(ctx, p.req, nil)
	}
	return p.adm.Admit(ctx, p.req, &t)
}

// featureViolations checks the rows of a tabular body against the input
// features of the resolved version; nil when there is nothing to check
// against or nothing wrong.
func (p *predict) featureViolations(c *catalog.Catalog, t routing.Target, doc map[string]any) []problem.Violation {
	if p.route.oip || p.cfg.Features == nil {
		return nil // tensors, not rows of named features; or no manifests
	}
	f := p.cfg.Features.Features(c, t.Model, t.Version)
	if f == nil {
		return nil
	}
	rows, _ := doc["inputs"].([]any)
	return f.Check(rows)
}

// withFeatures adds the feature violations to a body's schema violations
// when the body is usable enough to say which model version it is for: an
// object whose inputs are an array within max_rows, whose model and version
// members (when present) are strings, naming a version that resolves and
// that the key may use. Otherwise the schema violations stand alone, as
// they did before the feature check existed: a schema violation still wins
// over an unknown model or version (404) and over a model the key may not
// use (403), and feature names are never revealed for a model the key may
// not use. Nothing of the request record changes.
func (p *predict) withFeatures(schema *policy.ViolationsError, doc map[string]any) error {
	if p.route.oip || doc == nil {
		return schema
	}
	rows, ok := doc["inputs"].([]any)
	if !ok || len(rows) > p.cfg.Limits.MaxRows {
		return schema
	}
	for _, member := range [...]string{"model", "version", "model_version"} {
		if v, present := doc[member]; present {
			if _, isString := v.(string); !isString {
				return schema
			}
		}
	}
	c := p.cfg.Catalog.Catalog()
	model, version := p.route.target(c, p.req.Match, doc)
	t, err := routing.ResolveFor(c, p.req.subject(), model, p.in.headerVersion, version)
	if err != nil || !p.adm.allows(p.req.KeyID, t.Model) {
		return schema
	}
	vs := p.featureViolations(c, t, doc)
	if len(vs) == 0 {
		return schema
	}
	return &policy.ViolationsError{Violations: policy.MergeViolations(schema.Violations, vs)}
}
