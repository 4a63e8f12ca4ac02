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
	d *Deps
	r *Request
}

var _ Processor = (*metadata)(nil)

// NewMetadata is the [Factory] of the model metadata routes.
func NewMetadata(d *Deps, r *Request) Processor { return &metadata{d: d, r: r} }

// RequestHeaders implements [Processor.RequestHeaders].
func (p *metadata) RequestHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	p.r.Target.Model = p.r.Match.Model
	// Scope first: nothing about a model the key may not use is revealed.
	if err := p.d.checkScope(p.r); err != nil {
		return nil, err
	}
	t, err := routing.Resolve(p.d.Runtime.Catalog(), p.r.Match.Model, Headers(h).Get(header.ModelVersion), p.r.Match.Version)
	if err != nil {
		return nil, err
	}
	p.r.Target = t
	if err := p.d.Admit(ctx, p.r, &p.r.Target); err != nil {
		return nil, err
	}
	return requestHeadersResponse(routeTo(p.r)), nil
}

// RequestBody implements [Processor.RequestBody]; a GET body is passed on.
func (p *metadata) RequestBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.r.RequestBytes += int64(len(b.GetBody()))
	return requestBodyResponse(nil), nil
}

// ResponseHeaders implements [Processor.ResponseHeaders].
func (p *metadata) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	return responseHeadersResponse(observeResponse(p.r, h)), nil
}

// ResponseBody implements [Processor.ResponseBody].
func (p *metadata) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.r.addResponseBody(len(b.GetBody()))
	return responseBodyResponse(nil), nil
}

// Close implements [Processor.Close].
func (p *metadata) Close() {}
