package processor

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/extproc/internal/usage"
	"github.com/modelgate/modelgate/internal/catalog"
)

// predictRoute describes what differs between the prediction routes.
type predictRoute struct {
	schema string
	// idField is the top-level response member carrying the request id.
	idField string
	// cacheFields are the body members that determine the prediction,
	// sorted; everything else (model, version, ids) is in the key already
	// or does not change the answer.
	cacheFields []string
	// target returns the model and the version or alias named by the body
	// or path ("" when none).
	target func(c *catalog.Catalog, m routing.Match, doc map[string]any) (model, version string)
	rows   func(doc map[string]any) int
	// bodyID returns the id the response must carry on a cache hit when
	// the request names one itself.
	bodyID func(doc map[string]any) string
	// oip marks the Open Inference Protocol route: an absent content type
	// means JSON, and the binary tensor data extension is accepted.
	oip bool
}

var (
	v1Route = predictRoute{
		schema: policy.V1PredictRequest, idField: "request_id", cacheFields: []string{"inputs", "options"},
		target: func(c *catalog.Catalog, _ routing.Match, doc map[string]any) (string, string) {
			return c.DefaultModel, str(doc["model_version"])
		},
		rows:   rowCount,
		bodyID: func(map[string]any) string { return "" },
	}
	v2Route = predictRoute{
		schema: policy.V2PredictRequest, idField: "request_id", cacheFields: []string{"inputs", "options"},
		target: func(_ *catalog.Catalog, _ routing.Match, doc map[string]any) (string, string) {
			return str(doc["model"]), str(doc["version"])
		},
		rows:   rowCount,
		bodyID: func(map[string]any) string { return "" },
	}
	inferRoute = predictRoute{
		// The Open Inference Protocol echoes the request's "id" (or the
		// request id when there is none), so it stays out of the key and
		// is written into the body of a hit.
		schema: policy.InferRequest, idField: "id", cacheFields: []string{"inputs", "outputs", "parameters"},
		target: func(_ *catalog.Catalog, m routing.Match, _ map[string]any) (string, string) {
			return m.Model, m.Version
		},
		rows:   tensorRows,
		bodyID: func(doc map[string]any) string { return str(doc["id"]) },
		oip:    true,
	}
)

// NewV1Predict is the [Factory] of POST /v1/predict.
func NewV1Predict(d *Deps, r *Request) Processor { return &predict{d: d, r: r, route: &v1Route} }

// NewV2Predict is the [Factory] of POST /v2/predict.
func NewV2Predict(d *Deps, r *Request) Processor { return &predict{d: d, r: r, route: &v2Route} }

// NewInfer is the [Factory] of POST /v2/models/{model}[/versions/{v}]/infer.
func NewInfer(d *Deps, r *Request) Processor { return &predict{d: d, r: r, route: &inferRoute} }

// predict validates a prediction request, resolves the model version Envoy
// routes to, and serves or fills the response cache.
type predict struct {
	d     *Deps
	r     *Request
	route *predictRoute

	headerVersion     string
	noLookup, noStore bool
	// headerLength is the inference-header-content-length of a binary
	// Open Inference Protocol request, "" for a JSON one.
	headerLength string
	// partial collects request body chunks when Envoy streams them.
	partial []byte

	// cached is true when the response cache takes part in this request.
	cached bool
	key    cache.Key
	// flight is held while this request is the one identical requests
	// wait for.
	flight *cache.Flight
	// hitID is the id a cached body must show for this request.
	hitID string
	// storing is true once the response body was switched to BUFFERED to
	// fill the cache.
	storing  bool
	respType string
	// respHeadLength is the JSON head length of a binary Open Inference
	// Protocol answer being stored, -1 for a JSON answer.
	respHeadLength int
	respVersion    string
	respHeaderSeen bool
}

var _ Processor = (*predict)(nil)

// RequestHeaders implements [Processor.RequestHeaders]: everything that
// can be refused before the body arrives is refused here.
func (p *predict) RequestHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	hs := Headers(h)
	p.headerVersion = hs.Get(header.ModelVersion)
	p.noLookup, p.noStore = cache.Directives(hs.Get(header.CacheControl))
	if h.GetEndOfStream() {
		// No body will ever come (Envoy sends no body message after
		// headers with end_of_stream), so answer now.
		return nil, &policy.MalformedError{Err: errors.New("the request has no body")}
	}
	if p.route.oip {
		p.headerLength = hs.Get(header.InferenceHeaderContentLength)
		if err := policy.CheckInferMediaType(hs.Get(header.ContentType), p.headerLength != ""); err != nil {
			return nil, err
		}
	} else if err := policy.CheckMediaType(hs.Get(header.ContentType)); err != nil {
		return nil, err
	}
	if n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64); err == nil {
		if err := policy.CheckSize(n, p.d.Limits.MaxBodyBytes); err != nil {
			return nil, err
		}
	}
	return requestHeadersResponse(nil), nil
}

// RequestBody implements [Processor.RequestBody]. In BUFFERED mode the
// whole body is one message; its end_of_stream is false when trailers
// follow, so the body is processed whatever end_of_stream says. Only when
// Envoy is configured to stream the body are chunks collected until the
// last.
func (p *predict) RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.r.RequestBytes += int64(len(b.GetBody()))
	if err := policy.CheckSize(p.r.RequestBytes, p.d.Limits.MaxBodyBytes); err != nil {
		return nil, err
	}
	body := b.GetBody()
	if streamed(p.r.RequestBodyMode) {
		p.partial = append(p.partial, body...)
		if !b.GetEndOfStream() {
			return requestBodyResponse(nil), nil
		}
		body = p.partial
	}
	return p.decide(ctx, body)
}

func streamed(m extprocfilterv3.ProcessingMode_BodySendMode) bool {
	return m == extprocfilterv3.ProcessingMode_STREAMED || m == extprocfilterv3.ProcessingMode_FULL_DUPLEX_STREAMED
}

// decide validates the body, resolves the target, checks the key's scope,
// checks the rows against the version's input features and consults the
// cache. Schema and feature violations are answered together (see
// [predict.withFeatures]). A binary Open Inference Protocol body is split
// first: the schema sees only its JSON header, and the binary tail must be
// exactly what the inputs' binary_data_size announce.
func (p *predict) decide(ctx context.Context, body []byte) (*extprocv3.ProcessingResponse, error) {
	head, tail := body, []byte(nil)
	if p.headerLength != "" {
		var err error
		if head, tail, err = policy.SplitBinaryInfer(body, p.headerLength); err != nil {
			return nil, err
		}
	}
	parsed, err := p.d.Validator.Decode(head)
	if err != nil {
		return nil, err
	}
	doc, _ := parsed.(map[string]any) // the schemas only admit objects
	c := p.d.Runtime.Catalog()
	model, version := p.route.target(c, p.r.Match, doc)
	t, resolveErr := routing.Resolve(c, model, p.headerVersion, version)
	// Counted before the body is validated: an over-quota request costs
	// no schema validation, and cache hits count.
	if err := p.admit(ctx, t, resolveErr); err != nil {
		return nil, err
	}
	if known, key := p.d.ValidBodies.Passed(p.route.schema, head); !known {
		if err := p.d.Validator.Check(p.route.schema, parsed); err != nil {
			var schema *policy.ViolationsError
			if errors.As(err, &schema) {
				// One answer lists every violation: the schema's and,
				// when the body says which version it is for, the
				// features'.
				return nil, p.withFeatures(schema, doc)
			}
			return nil, err
		}
		p.d.ValidBodies.Remember(key)
	}
	if p.route.oip {
		if err := policy.CheckBinaryData(doc, len(tail)); err != nil {
			return nil, err
		}
	}
	p.r.Rows = p.route.rows(doc)
	if err := policy.CheckRows(p.r.Rows, p.d.Limits.MaxRows); err != nil {
		return nil, err
	}
	// The scope is checked on the name the body gives, before anything
	// about the model is revealed: a key may not learn from a 404 which
	// versions (or models) exist beyond those it may use.
	p.r.Target.Model = model
	if err := p.d.checkScope(p.r); err != nil {
		return nil, err
	}
	if resolveErr != nil {
		return nil, resolveErr
	}
	p.r.Target = t
	if vs := p.featureViolations(c, t, doc); len(vs) > 0 {
		return nil, &policy.ViolationsError{Violations: policy.MergeViolations(nil, vs)}
	}
	if p.d.Cache == nil {
		return requestBodyResponse(routeTo(p.r)), nil
	}
	return p.consultCache(ctx, doc, tail)
}

// admit counts the request against its quotas, the per-model one too when
// the body names a version the key may use.
func (p *predict) admit(ctx context.Context, t routing.Target, resolveErr error) error {
	if resolveErr != nil || (p.d.Scopes != nil && !p.d.Scopes.Allows(p.r.KeyID, t.Model)) {
		return p.d.Admit(ctx, p.r, nil)
	}
	return p.d.Admit(ctx, p.r, &t)
}

// consultCache keys the request on its canonical prediction fields and
// binary tensor data. Requests asking for binary outputs take part like any
// other: what decides binary outputs (parameters.binary_data_output and the
// outputs' binary_data) is in the canonical form, so they never share an
// entry with requests asking for JSON outputs.
func (p *predict) consultCache(ctx context.Context, doc map[string]any, tail []byte) (*extprocv3.ProcessingResponse, error) {
	canonical, err := cache.CanonicalFields(doc, p.route.cacheFields)
	if err != nil { // cannot happen for decoded JSON; fail open
		return requestBodyResponse(routeTo(p.r)), nil
	}
	canonical = cache.AppendBinaryTail(canonical, tail)
	scope := p.r.Client
	if p.d.ShareCache {
		scope = ""
	}
	p.cached = true
	p.key = cache.NewKey(cache.KeyParts{Scope: scope, Route: p.r.Match.Kind.String(),
		Model: p.r.Target.Model, Version: p.r.Target.Version, Canonical: canonical})
	p.hitID = p.route.bodyID(doc)
	if p.hitID == "" {
		p.hitID = p.r.RequestID
	}
	p.r.Cache = usage.CacheMiss
	if p.noLookup || p.noStore {
		p.r.Cache = usage.CacheBypass
	}
	if !p.noLookup {
		if e, ok := p.d.Cache.Get(p.key); ok {
			return p.hit(e), nil
		}
		if !p.noStore {
			f, leader := p.d.Cache.Join(p.key)
			if leader {
				p.flight = f
			} else if e := f.Wait(ctx); e != nil {
				return p.hit(e), nil
			}
			// The leader failed, its answer was not cacheable, or it took
			// too long: go upstream like any miss.
		}
	}
	return requestBodyResponse(routeTo(p.r)), nil
}

// hit answers from the cache with the current request id. A binary Open
// Inference Protocol answer gets the inference-header-content-length of its
// rewritten JSON head; Envoy sets the content-length of the local reply.
func (p *predict) hit(e *cache.Entry) *extprocv3.ProcessingResponse {
	p.r.Cache = usage.CacheHit
	body := e.Body(p.hitID)
	p.r.ResponseBytes = int64(len(body))
	var m Mutation
	m.Set(header.Cache, usage.CacheHit)
	m.Set(header.Age, e.Age(p.d.Now()))
	if e.Binary {
		m.Set(header.InferenceHeaderContentLength, strconv.Itoa(e.HeadLength(body)))
	}
	return Immediate(p.r, 200, e.ContentType, body, "modelgate_cache_hit", &m)
}

// ResponseHeaders implements [Processor.ResponseHeaders]: it reports the
// cache result and, for a response worth storing, switches the response
// body to BUFFERED for this request only.
func (p *predict) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	p.respHeaderSeen = true
	common := observeResponse(p.r, h)
	hs := Headers(h)
	var m Mutation
	if common != nil {
		m.m = common.HeaderMutation
	}
	if p.cached {
		m.Set(header.Cache, p.r.Cache)
	}
	served := hs.Get(header.ModelVersion)
	if served == "" && p.r.Target.Version != "" {
		m.Set(header.ModelVersion, p.r.Target.Version)
		served = p.r.Target.Version
	}
	resp := responseHeadersResponse(nil)
	if m.Proto() != nil {
		resp = responseHeadersResponse(&extprocv3.CommonResponse{HeaderMutation: m.Proto()})
	}
	if headLength, ok := p.storable(hs, h.GetEndOfStream(), served); ok {
		p.storing = true
		p.respType = hs.Get(header.ContentType)
		p.respHeadLength = headLength
		p.respVersion = served
		// Body modes have no "unset": NONE is 0, so both are spelled out,
		// the request one as configured.
		resp.ModeOverride = &extprocfilterv3.ProcessingMode{
			RequestBodyMode:  p.r.RequestBodyMode,
			ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
		}
	} else {
		p.release()
	}
	return resp, nil
}

// storable reports whether the response may fill the cache: a 200
// application/json answer (never an event stream) or, on the Open Inference
// Protocol route, a binary answer (application/octet-stream with
// inference-header-content-length, whose value it returns; -1 for JSON)
// from the version the request was routed to, within the entry size limit,
// that the client and the upstream allow to be stored.
func (p *predict) storable(hs HeaderList, eos bool, served string) (headLength int, ok bool) {
	if !p.cached || p.noStore || eos || p.r.Status != 200 || served != p.r.Target.Version {
		return 0, false
	}
	mt, _, err := mime.ParseMediaType(hs.Get(header.ContentType))
	if err != nil {
		return 0, false
	}
	headLength = -1
	switch {
	case mt == header.MediaJSON:
	case mt == header.MediaOctetStream && p.route.oip:
		if headLength = binaryHeadLength(hs.Get(header.InferenceHeaderContentLength)); headLength < 0 {
			return 0, false
		}
	default:
		return 0, false
	}
	if n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64); err == nil && n > p.d.MaxCacheEntryBytes {
		return 0, false
	}
	if !cache.Storable(hs.Get(header.CacheControl)) {
		return 0, false
	}
	return headLength, true
}

// ResponseBody implements [Processor.ResponseBody]. After the override the
// whole body arrives in one message (end_of_stream is false only when
// trailers follow); it is passed on unchanged, so content-length stays
// right, and stored when it is what its headers announced.
func (p *predict) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.r.addResponseBody(len(b.GetBody()))
	if p.storing {
		p.storing = false
		if e := p.entry(b.GetBody()); e != nil {
			if p.flight != nil {
				p.flight.Finish(e)
				p.flight = nil
			} else {
				p.d.Cache.Set(p.key, e)
			}
		}
		p.release()
	}
	return responseBodyResponse(nil), nil
}

// entry makes the cache entry of a response body within the entry size
// limit: valid JSON, or a binary answer whose head is a JSON object of the
// announced length. It is nil when the body is not worth storing.
func (p *predict) entry(body []byte) *cache.Entry {
	if int64(len(body)) > p.d.MaxCacheEntryBytes {
		return nil
	}
	if p.respHeadLength >= 0 {
		e, err := cache.NewBinaryEntry(body, p.respHeadLength, p.route.idField, p.respType, p.respVersion, p.d.Now())
		if err != nil {
			return nil
		}
		return e
	}
	if !json.Valid(body) {
		return nil
	}
	return cache.NewEntry(body, p.route.idField, p.respType, p.respVersion, p.d.Now())
}

// Close implements [Processor.Close].
func (p *predict) Close() { p.release() }

// release lets waiting identical requests go upstream themselves.
func (p *predict) release() {
	if p.flight != nil {
		p.flight.Finish(nil)
		p.flight = nil
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// rowCount counts the rows of a tabular body.
func rowCount(doc map[string]any) int {
	rows, _ := doc["inputs"].([]any)
	return len(rows)
}

// tensorRows is the largest first dimension of the input tensors: the
// batch size of an Open Inference Protocol request.
func tensorRows(doc map[string]any) int {
	inputs, _ := doc["inputs"].([]any)
	n := 0
	for _, in := range inputs {
		t, _ := in.(map[string]any)
		shape, _ := t["shape"].([]any)
		if len(shape) == 0 {
			continue
		}
		if d, ok := shape[0].(json.Number); ok {
			if v, err := d.Int64(); err == nil && int(v) > n {
				n = int(v)
			}
		}
	}
	return n
}
