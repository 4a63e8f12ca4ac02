package httpapi

import (
	"net/http"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/inference/internal/scoring"
	"github.com/modelgate/modelgate/internal/catalog"
)

// CatalogEntry is one model in the GET /v2/models answer; VersionEntry
// one of its versions (the shape the gateway answers with too).
type (
	CatalogEntry = catalog.ListEntry
	VersionEntry = catalog.ListVersion
)

// catalog serves GET /v2/models: every model, version and alias, with the
// input schema of each version this process serves.
func (s *Server) catalog(w http.ResponseWriter, _ *http.Request) error {
	reg := s.reg.Load()
	out := struct {
		Models []CatalogEntry `json:"models"`
	}{}
	for _, name := range reg.Catalog.ModelNames() {
		m := reg.Catalog.Models[name]
		e := CatalogEntry{Name: name, Description: m.Description, Aliases: m.Aliases, Default: name == reg.Catalog.DefaultModel}
		for _, ver := range m.Versions {
			ve := VersionEntry{Version: ver}
			if v, ok := reg.Lookup(name, ver); ok {
				mf := v.Manifest
				ve.Served, ve.Algorithm, ve.Format, ve.Inputs, ve.Metrics, ve.Created = true, mf.Algorithm, mf.Format, mf.Inputs, mf.Metrics, mf.Created
				ve.Output = &mf.Output
			}
			e.Versions = append(e.Versions, ve)
		}
		out.Models = append(out.Models, e)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) serverMetadata(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, oip.ServerMetadata{Name: "modelgate-inference", Version: s.cfg.BuildVersion, Extensions: []string{}})
}

func (s *Server) live(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, oip.Live{Live: true})
}

func (s *Server) readyOIP(w http.ResponseWriter, _ *http.Request) error {
	ok := s.ready.Load()
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, oip.Ready{Ready: ok})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) error {
	if !s.ready.Load() {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "serving": s.reg.Load().Served()})
}

// modelMetadata serves GET /v2/models/{name}[/versions/{version}].
func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) error {
	reg := s.reg.Load()
	v, err := reg.Resolve(r.PathValue("name"), versionChoice(r, r.PathValue("version")))
	if err != nil {
		return err
	}
	if err := scoring.Tabular(v); err != nil {
		return err
	}
	md := oip.ModelMetadata{
		Name:     v.Name(),
		Versions: reg.Catalog.Models[v.Name()].Versions,
		Platform: v.Manifest.Format,
	}
	md.Inputs, md.Outputs = scoring.TensorMeta(v)
	return writeJSON(w, http.StatusOK, md)
}

// modelReady serves GET /v2/models/{name}[/versions/{version}]/ready.
func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) error {
	reg := s.reg.Load()
	name := r.PathValue("name")
	if _, err := reg.Resolve(name, versionChoice(r, r.PathValue("version"))); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, oip.ModelReady{Name: name, Ready: s.ready.Load()})
}
