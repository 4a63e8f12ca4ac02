package registry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/config"
)

var catalogPath = filepath.Join("..", "..", "..", "models", "catalog.yaml")

func TestLoad_textVersionHasAGeneratorAndNoEngine(t *testing.T) {
	t.Parallel()
	r, err := Load(catalogPath, nil)
	require.NoError(t, err)
	for _, v := range r.Versions() {
		if v.Text() {
			require.NotNil(t, v.Generator, v.Name())
			require.Nil(t, v.Engine, v.Name())
			require.NotNil(t, v.Index, "an empty index, so lookups miss instead of panicking")
		} else {
			require.NotNil(t, v.Engine, v.Name())
			require.Nil(t, v.Generator, v.Name())
		}
	}
	v, err := r.Resolve("scribe", "latest")
	require.NoError(t, err)
	require.True(t, v.Text())
	require.Equal(t, v.Manifest.Generation.ContextLength, v.Generator.ContextLength())
}

func TestLoad_servesOnlyTheSelectedTextVersion(t *testing.T) {
	t.Parallel()
	r, err := Load(catalogPath, []config.Selection{{Model: "scribe", Version: "1"}})
	require.NoError(t, err)
	require.Equal(t, []string{"scribe:1"}, r.Served())
}

// copyCatalog writes a catalog whose models point at the committed
// version folders, so a test can change a model's kind.
func copyCatalog(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	for _, mv := range []string{"iris/1", "diabetes/1", "scribe/1"} {
		src := filepath.Join(filepath.Dir(catalogPath), mv)
		dst := filepath.Join(dir, mv)
		require.NoError(t, os.MkdirAll(dst, 0o755))
		entries, err := os.ReadDir(src)
		require.NoError(t, err)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
		}
	}
	path := filepath.Join(dir, "catalog.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o644))
	return path
}

func TestLoad_rejectsAKindThatDisagreesWithTheManifest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
	}{
		{"rejects a text version under a tabular model", "default_model: iris\nmodels:\n  iris: {versions: [\"1\"]}\n  scribe: {versions: [\"1\"]}\n"},
		{"rejects a tabular version under an llm model", "default_model: diabetes\nmodels:\n  diabetes: {versions: [\"1\"]}\n  iris: {kind: llm, versions: [\"1\"]}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(copyCatalog(t, tt.yaml), nil)
			require.ErrorContains(t, err, "kind")
		})
	}
}
