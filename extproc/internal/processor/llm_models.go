package processor

import (
	"context"
	"encoding/json"
	"mime"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/routing"
)

// maxModelList bounds the model list the gateway rewrites.
const maxModelList = 1 << 20

// models scopes the OpenAI model list to the key: GET /v1/models answers
// only the models the key may use, GET /v1/models/{id} is refused for the
// others before anything about them is revealed.
type models struct {
	adm *Admission
	req *Request
	// filtering is true once the list's body was switched on.
	filtering bool
}

var _ Processor = (*models)(nil)

// NewModels returns the [Factory] of GET /v1/models[/{id}].
func NewModels(a *Admission) Factory {
	return func(r *Request) Processor { return &models{adm: a, req: r} }
}

// RequestHeaders implements [Processor.RequestHeaders].
func (p *models) RequestHeaders(ctx context.Context, _ *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	if err := p.adm.Admit(ctx, p.req, nil); err != nil {
		return nil, err
	}
	if id := p.req.Match.Model; id != "" {
		p.req.Target.Model, _ = routing.SplitModelID(id)
		if err := p.adm.checkScope(p.req); err != nil {
			return nil, err
		}
	}
	return requestHeadersResponse(nil), nil
}

// RequestBody implements [Processor.RequestBody]; a GET body is passed on.
func (p *models) RequestBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.RequestBytes += int64(len(b.GetBody()))
	return requestBodyResponse(nil), nil
}

// ResponseHeaders implements [Processor.ResponseHeaders]: a list within
// bounds has its body switched to BUFFERED, to be filtered.
func (p *models) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	resp := responseHeadersResponse(observeResponse(p.req, h))
	hs := Headers(h)
	mt, _, _ := mime.ParseMediaType(hs.Get(header.ContentType))
	n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64)
	if p.req.Match.Model != "" || p.req.Status != 200 || mt != header.MediaJSON || h.GetEndOfStream() ||
		(err == nil && n > maxModelList) || p.adm.cfg.Scopes == nil {
		return resp, nil
	}
	p.filtering = true
	// The filtered list is shorter: its length is set with the body (and
	// left to chunked encoding where Envoy already sent the headers).
	m := Mutation{}
	if c := resp.GetResponseHeaders().GetResponse(); c != nil {
		m.m = c.HeaderMutation
	}
	m.Remove(header.ContentLength)
	resp = responseHeadersResponse(&extprocv3.CommonResponse{HeaderMutation: m.Proto()})
	resp.ModeOverride = &extprocfilterv3.ProcessingMode{RequestBodyMode: p.req.RequestBodyMode, ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED}
	return resp, nil
}

// modelList is the OpenAI list shape; entries are kept as they came.
type modelList struct {
	Object string            `json:"object"`
	Data   []json.RawMessage `json:"data"`
}

// ResponseBody implements [Processor.ResponseBody].
func (p *models) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	if !p.filtering {
		return responseBodyResponse(nil), nil
	}
	p.filtering = false
	var list modelList
	if err := json.Unmarshal(b.GetBody(), &list); err != nil {
		// Not the list this route serves; refuse rather than leak it.
		return nil, err
	}
	kept := list.Data[:0]
	for _, raw := range list.Data {
		var entry struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &entry) != nil {
			continue
		}
		if name, _ := routing.SplitModelID(entry.ID); p.adm.allows(p.req.KeyID, name) {
			kept = append(kept, raw)
		}
	}
	list.Data = kept
	if list.Data == nil {
		list.Data = []json.RawMessage{}
	}
	out, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	var m Mutation
	m.Set(header.ContentLength, strconv.Itoa(len(out)))
	return responseBodyResponse(&extprocv3.CommonResponse{HeaderMutation: m.Proto(),
		BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}}), nil
}

// Close implements [Processor.Close].
func (p *models) Close() {}
