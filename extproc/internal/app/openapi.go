package app

import (
	"fmt"
	"os"

	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/openapi"
)

// loadStatic reads the hand-edited OpenAPI document: the request schemas'
// source, the method table of the 405 answers and the base of the served
// document.
func loadStatic(path string) (*openapi.Static, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read openapi document: %w", err)
	}
	s, err := openapi.ParseStatic(b)
	if err != nil {
		return nil, fmt.Errorf("openapi document %s: %w", path, err)
	}
	return s, nil
}

// loadDocuments builds the generator of the document served at
// /openapi.json for one catalog load; none without a document path (the
// configuration defaults one).
func loadDocuments(cfg *config.Config, cat *catalog.Catalog) (*openapi.Generator, error) {
	if cfg.OpenAPI == "" {
		return nil, nil
	}
	s, err := loadStatic(cfg.OpenAPI)
	if err != nil {
		return nil, err
	}
	return openapi.New(s, cat, openapi.ReadManifests(cat), openapi.Config{MaxRows: cfg.Limits.MaxRows, JobsMaxRows: cfg.Limits.JobsMaxRows}), nil
}

// Documents implements [processor.DocumentSource].
func (l *liveConfig) Documents() *openapi.Generator { return l.snap.Load().docs }
