package processor

import (
	"context"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/routing"
)

// metadata routes the Open Inference Protocol model metadata and readiness
// GETs (/v2/models/{model}[/versions/{v}][/ready]) to the version they
// name. There is no body, so the routing headers go into the
// request_headers response.
type metadata struct {
	catalog CatalogSource
	adm     *Admission
	req     *Request
}

var _ Processor = (*metadata)(nil)

// NewMetadata returns the [Factory] of the model metadata routes.
func NewMetadata(c CatalogSource, a *Admission) Factory {
	return func(r *Request) Processor { return &metadata{catalog: c, adm: a, req: r} }
}

// RequestHeaders implements [Processor.RequestHeaders].
func (p *metadata) RequestHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	p.req.Target.Model = p.req.Match.Model
	// Scope first: nothing about a model the key may not use is revealed.
	if err := p.adm.checkScope(p.req); err != nil {
		return nil, err
	}
	t, err := routing.ResolveFor(p.catalog.Catalog(), p.req.subject(), p.req.Match.Model, Headers(h).Get(header.ModelVersion), p.req.Match.Version)
	if err != nil {
		return nil, err
	}
	p.req.Target = t
	if err := p.adm.Admit(ctx, p.req, &p.req.Target); err != nil {
		return nil, err
	}
	return requestHeadersResponse(routeTo(p.req)), nil
}

// RequestBody implements [Processor.RequestBody]; a GET body is passed on.
func (p *metadata) RequestBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.RequestBytes += int64(len(b.GetBody()))
	return requestBodyResponse(nil), nil
}

// ResponseHeaders implements [Processor.ResponseHeaders].
func (p *metadata) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	return responseHeadersResponse(observeResponse(p.req, h)), nil
}

// ResponseBody implements [Processor.ResponseBody].
func (p *metadata) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	return responseBodyResponse(nil), nil
}

// Close implements [Processor.Close].
func (p *metadata) Close() {}
