package processor

import (
	"context"
	"encoding/json"
	"mime"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/usage"
)

// cacheState is the response cache's part in one prediction request.
type cacheState struct {
	// noLookup and noStore are the request's Cache-Control directives.
	noLookup, noStore bool
	// on is true when the cache takes part in this request.
	on  bool
	key cache.Key
	// flight is held while this request is the one identical requests
	// wait for.
	flight *cache.Flight
	// hitID is the id a cached body must show for this request.
	hitID string
}

// responseState describes the upstream answer being stored.
type responseState struct {
	// storing is true once the response body was switched to BUFFERED to
	// fill the cache.
	storing     bool
	contentType string
	// headLength is the JSON head length of a binary Open Inference
	// Protocol answer, -1 for a JSON answer.
	headLength int
	// version is the model version that served the answer.
	version string
	// lean is true while the response headers are skipped and the body
	// is awaited with the response attributes (see [predict.leanFill]).
	lean bool
}

// consultCache keys the request on its canonical prediction fields and
// binary tensor data. Requests asking for binary outputs take part like any
// other: what decides binary outputs (parameters.binary_data_output and the
// outputs' binary_data) is in the canonical form, so they never share an
// entry with requests asking for JSON outputs.
func (p *predict) consultCache(ctx context.Context, doc map[string]any, tail []byte) (*extprocv3.ProcessingResponse, error) {
	canonical, err := cache.CanonicalFields(doc, p.route.cacheFields)
	if err != nil { // cannot happen for decoded JSON; fail open
		return requestBodyResponse(routeTo(p.req)), nil
	}
	canonical = cache.AppendBinaryTail(canonical, tail)
	scope := p.req.Client
	if p.cfg.Cache.ShareAcrossClients {
		scope = ""
	}
	c := &p.cache
	c.on = true
	c.key = cache.NewKey(cache.KeyParts{Scope: scope, Route: p.req.Match.Kind.String(),
		Model: p.req.Target.Model, Version: p.req.Target.Version, Canonical: canonical})
	c.hitID = p.route.bodyID(doc)
	if c.hitID == "" {
		c.hitID = p.req.RequestID
	}
	p.req.Cache = usage.CacheMiss
	if c.noLookup || c.noStore {
		p.req.Cache = usage.CacheBypass
	}
	if !c.noLookup {
		store := p.cfg.Cache.Store
		if e, ok := store.Get(c.key); ok {
			return p.hit(e), nil
		}
		if !c.noStore {
			f, leader := store.Join(c.key)
			if leader {
				c.flight = f
			} else if e := f.Wait(ctx); e != nil {
				return p.hit(e), nil
			}
			// The leader failed, its answer was not cacheable, or it took
			// too long: go upstream like any miss.
		}
	}
	return requestBodyResponse(routeTo(p.req)), nil
}

// hit answers from the cache with the current request id. A binary Open
// Inference Protocol answer gets the inference-header-content-length of its
// rewritten JSON head; Envoy sets the content-length of the local reply.
func (p *predict) hit(e *cache.Entry) *extprocv3.ProcessingResponse {
	p.req.Cache = usage.CacheHit
	body := e.Body(p.cache.hitID)
	p.req.ResponseBytes = int64(len(body))
	var m Mutation
	m.Set(header.Cache, usage.CacheHit)
	m.Set(header.Age, e.Age(p.cfg.Now()))
	if e.Binary {
		m.Set(header.InferenceHeaderContentLength, strconv.Itoa(e.HeadLength(body)))
	}
	return Immediate(p.req, 200, e.ContentType, body, "modelgate_cache_hit", &m)
}

// ResponseHeaders implements [Processor.ResponseHeaders]: it reports the
// cache result and, for a response worth storing, switches the response
// body to BUFFERED for this request only.
func (p *predict) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	common := observeResponse(p.req, h)
	hs := Headers(h)
	var m Mutation
	if common != nil {
		m.m = common.HeaderMutation
	}
	if p.cache.on {
		m.Set(header.Cache, p.req.Cache)
	}
	served := hs.Get(header.ModelVersion)
	if served == "" && p.req.Target.Version != "" {
		m.Set(header.ModelVersion, p.req.Target.Version)
		served = p.req.Target.Version
	}
	resp := responseHeadersResponse(nil)
	if m.Proto() != nil {
		resp = responseHeadersResponse(&extprocv3.CommonResponse{HeaderMutation: m.Proto()})
	}
	headLength, ok := p.storable(hs, h.GetEndOfStream(), served)
	if !ok {
		p.release()
		return resp, nil
	}
	p.out = responseState{storing: true, contentType: hs.Get(header.ContentType), headLength: headLength, version: served}
	// Body modes have no "unset": NONE is 0, so both are spelled out, the
	// request one as configured.
	resp.ModeOverride = &extprocfilterv3.ProcessingMode{
		RequestBodyMode:  p.req.RequestBodyMode,
		ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
	}
	return resp, nil
}

// storable reports whether the response may fill the cache: a 200
// application/json answer (never an event stream) or, on the Open Inference
// Protocol route, a binary answer (application/octet-stream with
// inference-header-content-length, whose value it returns; -1 for JSON)
// from the version the request was routed to, within the entry size limit,
// that the client and the upstream allow to be stored.
func (p *predict) storable(hs HeaderList, noBody bool, served string) (headLength int, ok bool) {
	if !p.mayStore(!noBody) || served != p.req.Target.Version {
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
	if n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64); err == nil && n > p.cfg.Cache.MaxEntryBytes {
		return 0, false
	}
	if !cache.Storable(hs.Get(header.CacheControl)) {
		return 0, false
	}
	return headLength, true
}

// mayStore is what storing asks of the request whatever the answer's
// headers say: the cache takes part, the client allows storing, and the
// answer is a whole 200.
func (p *predict) mayStore(whole bool) bool {
	return p.cache.on && !p.cache.noStore && whole && p.req.Status == 200
}

// ResponseBody implements [Processor.ResponseBody]. After the override the
// whole body arrives in one message (end_of_stream is false only when
// trailers follow); it is passed on unchanged, so content-length stays
// right, and stored when it is what its headers announced.
func (p *predict) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	if p.out.lean {
		p.readLeanAnswer(b)
	}
	if p.out.storing {
		p.out.storing = false
		if e := p.entry(b.GetBody()); e != nil {
			if p.cache.flight != nil {
				p.cache.flight.Finish(e)
				p.cache.flight = nil
			} else {
				p.cfg.Cache.Store.Set(p.cache.key, e)
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
	if int64(len(body)) > p.cfg.Cache.MaxEntryBytes {
		return nil
	}
	o := p.out
	if o.headLength >= 0 {
		e, err := cache.NewBinaryEntry(body, o.headLength, p.route.idField, o.contentType, o.version, p.cfg.Now())
		if err != nil {
			return nil
		}
		return e
	}
	if !json.Valid(body) {
		return nil
	}
	return cache.NewEntry(body, p.route.idField, o.contentType, o.version, p.cfg.Now())
}

// Close implements [Processor.Close].
func (p *predict) Close() { p.release() }

// release lets waiting identical requests go upstream themselves.
func (p *predict) release() {
	if p.cache.flight != nil {
		p.cache.flight.Finish(nil)
		p.cache.flight = nil
	}
}
