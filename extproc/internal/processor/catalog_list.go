package processor

import (
	"context"
	"encoding/json"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/internal/catalog"
)

// catalogList answers GET /v2/models itself, from the catalog and every
// version's manifest, listing only the models the key may use. Envoy
// would route the request to one model server, which knows only the
// versions it serves; the gateway knows them all.
type catalogList struct {
	memo *listMemo
	adm  *Admission
	req  *Request
}

var _ Processor = (*catalogList)(nil)

// NewModelList returns the [Factory] of the model list route.
func NewModelList(c CatalogSource, a *Admission) Factory {
	m := &listMemo{src: c}
	return func(r *Request) Processor { return &catalogList{memo: m, adm: a, req: r} }
}

// The answer's shape is inference's GET /v2/models (catalog.ListEntry);
// the end-to-end suite compares the two.
type (
	listAnswer struct {
		Models []listModel `json:"models"`
	}
	listModel   = catalog.ListEntry
	listVersion = catalog.ListVersion
)

// listMemo holds the list of the catalog in force, built once per catalog
// load (manifests are read from disk).
type listMemo struct {
	src    CatalogSource
	mu     sync.Mutex
	cat    *catalog.Catalog
	models []listModel
}

func (m *listMemo) get() []listModel {
	c := m.src.Catalog()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cat == c {
		return m.models
	}
	m.cat, m.models = c, buildList(c)
	return m.models
}

func buildList(c *catalog.Catalog) []listModel {
	out := make([]listModel, 0, len(c.Models))
	for _, name := range c.ModelNames() {
		cm := c.Models[name]
		e := listModel{Name: name, Description: cm.Description, Aliases: cm.Aliases, Default: name == c.DefaultModel}
		for _, v := range cm.Versions {
			lv := listVersion{Version: v}
			if mf, err := catalog.LoadManifest(c.VersionDir(name, v), name, v); err == nil {
				lv.Served, lv.Algorithm, lv.Format, lv.Inputs, lv.Metrics, lv.Created = true, mf.Algorithm, mf.Format, mf.Inputs, mf.Metrics, mf.Created
				out := mf.Output
				lv.Output = &out
			}
			e.Versions = append(e.Versions, lv)
		}
		out = append(out, e)
	}
	return out
}

// RequestHeaders implements [Processor.RequestHeaders]: the answer, as an
// ImmediateResponse.
func (p *catalogList) RequestHeaders(ctx context.Context, _ *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	if err := p.adm.Admit(ctx, p.req, nil); err != nil {
		return nil, err
	}
	all := p.memo.get()
	ans := listAnswer{Models: make([]listModel, 0, len(all))}
	for _, m := range all {
		if p.adm.allows(p.req.KeyID, m.Name) {
			ans.Models = append(ans.Models, m)
		}
	}
	b, err := json.Marshal(ans)
	if err != nil {
		return nil, err
	}
	return Immediate(p.req, 200, "application/json", b, "modelgate_model_list", nil), nil
}

// RequestBody implements [Processor.RequestBody]; not reached (the answer
// is given at the request headers).
func (p *catalogList) RequestBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.RequestBytes += int64(len(b.GetBody()))
	return requestBodyResponse(nil), nil
}

// ResponseHeaders implements [Processor.ResponseHeaders].
func (p *catalogList) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	return responseHeadersResponse(observeResponse(p.req, h)), nil
}

// ResponseBody implements [Processor.ResponseBody].
func (p *catalogList) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	return responseBodyResponse(nil), nil
}

// Close implements [Processor.Close].
func (p *catalogList) Close() {}
