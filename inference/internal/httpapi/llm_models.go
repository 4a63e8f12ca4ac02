package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/catalog"
)

// ownedBy is the owned_by of every model entry.
const ownedBy = "modelgate"

// listModels serves GET /v1/models: the catalog's text-generation models,
// each under every id a client may send as model: "<name>" (the latest
// alias), "<name>:<alias>" for its other aliases and "<name>:<version>"
// for each version. created is the version's manifest date when this
// process serves it, 0 otherwise. The gateway narrows the list to the
// models the key may use.
func (s *Server) listModels(w http.ResponseWriter, _ *http.Request) error {
	reg := s.reg.Load()
	out := openai.ModelList{Object: openai.ObjectList, Data: []openai.Model{}}
	for _, name := range reg.Catalog.ModelNames() {
		m := reg.Catalog.Models[name]
		if !m.IsLLM() {
			continue
		}
		for _, id := range modelIDs(m) {
			out.Data = append(out.Data, modelEntry(reg, m, id))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// getModel serves GET /v1/models/{model}, for any id listModels lists;
// an x-model-version header must name a version or alias of the model too.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	reg := s.reg.Load()
	id := r.PathValue("model")
	name, version, _ := strings.Cut(id, ":")
	m, ok := reg.Catalog.Models[name]
	if !ok || !m.IsLLM() {
		return &problem.Problem{
			Type: problem.TypeUnknownModel, Status: http.StatusNotFound, Title: "Unknown model",
			Detail: fmt.Sprintf("no text-generation model %q", id),
		}
	}
	if _, err := reg.Catalog.Resolve(name, versionChoice(r, version)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, modelEntry(reg, m, id))
}

// modelIDs lists the ids of one model: the bare name, then its aliases
// other than latest, then its versions.
func modelIDs(m *catalog.Model) []string {
	ids := []string{m.Name}
	aliases := make([]string, 0, len(m.Aliases))
	for a := range m.Aliases {
		if a != catalog.DefaultAlias {
			aliases = append(aliases, a)
		}
	}
	sort.Strings(aliases)
	for _, a := range aliases {
		ids = append(ids, m.Name+":"+a)
	}
	for _, v := range m.Versions {
		ids = append(ids, m.Name+":"+v)
	}
	return ids
}

func modelEntry(reg *registry.Registry, m *catalog.Model, id string) openai.Model {
	e := openai.Model{ID: id, Object: openai.ObjectModel, OwnedBy: ownedBy}
	_, version, _ := strings.Cut(id, ":")
	if v, err := reg.Resolve(m.Name, version); err == nil {
		e.Created = created(v.Manifest.Created)
	}
	return e
}

// created reads a manifest's created date (RFC 3339 or a plain date) as
// Unix seconds, 0 when it is neither.
func created(s string) int64 {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix()
		}
	}
	return 0
}
