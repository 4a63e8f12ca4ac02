package processor

import (
	"context"
	"strconv"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
)

// passThrough lets every phase through unchanged, adding only the route's
// deprecation headers to the response. It serves every route extproc does
// not inspect and, because it needs no request headers, streams that begin
// at response_headers (a local reply from ext_authz or ratelimit).
type passThrough struct {
	adm *Admission
	req *Request
}

var _ Processor = (*passThrough)(nil)

// NewPassThrough returns the [Factory] of the pass-through processor.
func NewPassThrough(a *Admission) Factory {
	return func(r *Request) Processor { return &passThrough{adm: a, req: r} }
}

// RequestHeaders implements [Processor.RequestHeaders].
func (p *passThrough) RequestHeaders(ctx context.Context, _ *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	if err := p.adm.Admit(ctx, p.req, nil); err != nil {
		return nil, err
	}
	return requestHeadersResponse(nil), nil
}

// RequestBody implements [Processor.RequestBody].
func (p *passThrough) RequestBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.RequestBytes += int64(len(b.GetBody()))
	return requestBodyResponse(nil), nil
}

// ResponseHeaders implements [Processor.ResponseHeaders].
func (p *passThrough) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	return responseHeadersResponse(observeResponse(p.req, h)), nil
}

// ResponseBody implements [Processor.ResponseBody].
func (p *passThrough) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	return responseBodyResponse(nil), nil
}

// Close implements [Processor.Close].
func (p *passThrough) Close() {}

// observeResponse records the status and size of a response and returns
// the CommonResponse with the route's deprecation headers and the
// request's x-ratelimit-* headers, or nil.
func observeResponse(r *Request, h *extprocv3.HttpHeaders) *extprocv3.CommonResponse {
	hs := Headers(h)
	r.Status = parseStatus(hs.Get(header.Status))
	if n, err := strconv.ParseInt(hs.Get(header.ContentLength), 10, 64); err == nil {
		r.ResponseBytes = n
	}
	if r.Deprecation == nil && r.Quota == nil {
		return nil
	}
	var m Mutation
	m.setAnswerHeaders(r)
	return &extprocv3.CommonResponse{HeaderMutation: m.Proto()}
}
