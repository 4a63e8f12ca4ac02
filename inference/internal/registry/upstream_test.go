package registry

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/internal/catalog"
)

type stubGen struct{ llm.Generator }

func (stubGen) Generate(context.Context, llm.Request, func(string) error) (llm.Result, error) {
	return llm.Result{}, nil
}

// upstreamCatalog writes a catalog with iris and a text model remote whose
// version 1 names an upstream.
func upstreamCatalog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "iris"), os.DirFS("../../../models/iris")))
	cat := "default_model: iris\nmodels:\n  iris:\n    versions: [\"1\", \"2\"]\n  remote:\n    kind: llm\n    versions: [\"1\"]\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(cat), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "remote", "1"), 0o755))
	m := `{"name":"remote","version":"1","format":"openai","algorithm":"upstream","created":"2026-12-03",
		"output":{"kind":"text","name":"text"},"generation":{"context_length":64,"vocab_size":256,"tokenizer":"bytes","max_output_tokens":8},
		"upstream":{"base_url":"http://upstream.example/v1","model":"tiny"}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "remote", "1", catalog.ManifestFile), []byte(m), 0o644))
	return filepath.Join(dir, "catalog.yaml")
}

func TestLoadWith_upstream(t *testing.T) {
	t.Parallel()
	path := upstreamCatalog(t)
	_, err := Load(path, nil)
	require.ErrorContains(t, err, "remote:1: served by an upstream, which this process cannot reach")

	var seen *catalog.Manifest
	reg, err := LoadWith(path, nil, Options{Upstream: func(m *catalog.Manifest) (llm.Generator, error) {
		seen = m
		return stubGen{}, nil
	}})
	require.NoError(t, err)
	v, err := reg.Resolve("remote", "latest")
	require.NoError(t, err)
	require.Equal(t, stubGen{}, v.Generator)
	require.Nil(t, v.Engine)
	require.Equal(t, "tiny", seen.Upstream.Model)
	iris, err := reg.Resolve("iris", "1")
	require.NoError(t, err)
	require.NotNil(t, iris.Engine)
	require.Nil(t, iris.Generator)
}

func TestNew(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Parse([]byte("default_model: iris\nmodels:\n  iris:\n    versions: [\"1\"]\n"))
	require.NoError(t, err)
	v := &Version{Manifest: &catalog.Manifest{Name: "iris", Version: "1"}}
	reg := New(cat, v)
	got, err := reg.Resolve("iris", "")
	require.NoError(t, err)
	require.Same(t, v, got)
	require.Equal(t, []string{"iris:1"}, reg.Served())
}
