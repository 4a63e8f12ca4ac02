package processor

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/internal/openapi"
)

// DocumentSource returns the OpenAPI document generator of the catalog in
// force; it may change between calls (reloads).
type DocumentSource interface {
	Documents() *openapi.Generator
}

// document answers GET /openapi.json itself: the deployment's OpenAPI
// document, scoped to the models the request's key may use.
type document struct {
	docs *documents
	adm  *Admission
	req  *Request
}

var _ Processor = (*document)(nil)

// documents renders a generator's documents once per model scope and
// keeps them until the generator changes (a reload).
type documents struct {
	src DocumentSource
	mu  sync.Mutex
	gen *openapi.Generator
	// byScope holds rendered documents by the comma-joined names of the
	// models in scope.
	byScope map[string][]byte
}

// maxScopes bounds the documents kept: keys come in few distinct scopes,
// and past the bound the memory is simply started afresh.
const maxScopes = 256

// NewDocument returns the [Factory] of GET /openapi.json.
func NewDocument(src DocumentSource, a *Admission) Factory {
	d := &documents{src: src}
	return func(r *Request) Processor { return &document{docs: d, adm: a, req: r} }
}

// render returns gen's document of the models allow accepts, which are
// models.
func (d *documents) render(gen *openapi.Generator, models []string, allow func(string) bool) ([]byte, error) {
	key := strings.Join(models, ",")
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != gen || len(d.byScope) >= maxScopes {
		d.gen, d.byScope = gen, map[string][]byte{}
	}
	if b, ok := d.byScope[key]; ok {
		return b, nil
	}
	b, err := gen.Document(allow)
	if err != nil {
		return nil, err
	}
	d.byScope[key] = b
	return b, nil
}

// RequestHeaders implements [Processor.RequestHeaders].
func (p *document) RequestHeaders(ctx context.Context, _ *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	if err := p.adm.Admit(ctx, p.req, nil); err != nil {
		return nil, err
	}
	gen := p.docs.src.Documents()
	if gen == nil {
		return nil, errors.New("no openapi document configured")
	}
	var models []string
	for _, m := range gen.Models() {
		if p.adm.allows(p.req.KeyID, m) {
			models = append(models, m)
		}
	}
	allow := func(m string) bool { return p.adm.allows(p.req.KeyID, m) }
	b, err := p.docs.render(gen, models, allow)
	if err != nil {
		return nil, err
	}
	return Immediate(p.req, http.StatusOK, header.MediaJSON, b, "modelgate_openapi", nil), nil
}

// RequestBody implements [Processor.RequestBody]; never reached, the
// headers phase answers.
func (p *document) RequestBody(_ context.Context, _ *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	return requestBodyResponse(nil), nil
}

// ResponseHeaders implements [Processor.ResponseHeaders].
func (p *document) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	return responseHeadersResponse(observeResponse(p.req, h)), nil
}

// ResponseBody implements [Processor.ResponseBody].
func (p *document) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	return responseBodyResponse(nil), nil
}

// Close implements [Processor.Close].
func (p *document) Close() {}
