package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const good = `
default_model: iris
models:
  iris:
    versions: ["1", "2"]
    aliases: {latest: "2", stable: "1", canary: "2"}
  diabetes:
    versions: ["1"]
`

func TestResolve(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(good))
	require.NoError(t, err)
	tests := []struct {
		name, model, version, want string
		wantErr                    any
	}{
		{"empty version means latest", "iris", "", "2", nil},
		{"latest alias", "iris", "latest", "2", nil},
		{"stable alias", "iris", "stable", "1", nil},
		{"custom alias", "iris", "canary", "2", nil},
		{"concrete version", "iris", "1", "1", nil},
		{"missing latest alias defaults to the last version", "diabetes", "latest", "1", nil},
		{"unknown version lists versions and aliases", "iris", "3", "", &UnknownVersionError{}},
		{"unknown model lists models", "tulip", "1", "", &UnknownModelError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Resolve(tc.model, tc.version)
			switch want := tc.wantErr.(type) {
			case nil:
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			case *UnknownVersionError:
				require.ErrorAs(t, err, &want)
				require.Equal(t, []string{"1", "2", "canary", "latest", "stable"}, want.Available)
			case *UnknownModelError:
				require.ErrorAs(t, err, &want)
				require.Equal(t, []string{"diabetes", "iris"}, want.Available)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`
default_model: tulip
models:
  Iris:
    versions: ["1", "1"]
    aliases: {latest: "3", "1": "1"}
  empty:
    versions: []
`))
	require.Error(t, err)
	for _, want := range []string{
		`default_model: "tulip" is not a model`,
		"models.Iris: name must match",
		`models.Iris.versions[1]: duplicate version "1"`,
		`models.Iris.aliases.latest: target "3" is not a version`,
		"models.Iris.aliases.1: alias shadows a version",
		"models.empty.versions: at least one version is required",
	} {
		require.ErrorContains(t, err, want)
	}
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	require.Len(t, joined.Unwrap(), 6)
}

func TestParseRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("default_model: iris\nmodels:\n  iris:\n    versions: ['1']\n    verisons: ['2']\n"))
	require.ErrorContains(t, err, "verisons")
}

func TestCommittedCatalogAndManifests(t *testing.T) {
	t.Parallel()
	c, err := Load("../../models/catalog.yaml")
	require.NoError(t, err)
	for _, name := range c.ModelNames() {
		for _, v := range c.Models[name].Versions {
			m, err := LoadManifest(c.VersionDir(name, v), name, v)
			require.NoError(t, err, "%s/%s", name, v)
			require.NotEmpty(t, m.Metrics, "%s/%s records its training metrics", name, v)
			require.NotEmpty(t, m.Created)
		}
	}
}

func TestLoadManifestRejectsMismatch(t *testing.T) {
	t.Parallel()
	_, err := LoadManifest("../../models/iris/1", "iris", "2")
	require.ErrorContains(t, err, `version "1", expected "2"`)
}

func TestModelKind(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("default_model: iris\nmodels:\n  iris:\n    versions: ['1']\n  scribe:\n    kind: llm\n    versions: ['1']\n"))
	require.NoError(t, err)
	require.Equal(t, KindTabular, c.Models["iris"].Kind, "kind defaults to tabular")
	require.False(t, c.Models["iris"].IsLLM())
	require.True(t, c.Models["scribe"].IsLLM())

	_, err = Parse([]byte("default_model: iris\nmodels:\n  iris:\n    kind: vision\n    versions: ['1']\n"))
	require.ErrorContains(t, err, `models.iris.kind: "vision" is neither tabular nor llm`)
	_, err = Parse([]byte("default_model: scribe\nmodels:\n  scribe:\n    kind: llm\n    versions: ['1']\n"))
	require.ErrorContains(t, err, "default_model: \"scribe\" generates text")
}

func TestTextManifest(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, body string) string {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(body), 0o600))
		return dir
	}
	const head = `{"name":"scribe","version":"1","format":"f","algorithm":"a","artifact":"w.bin","created":"2026-12-03"`
	dir := write(t, head+`,"output":{"kind":"text","name":"text"},"generation":{"context_length":256,"vocab_size":256,"tokenizer":"bytes","max_output_tokens":200}}`)
	m, err := LoadManifest(dir, "scribe", "1")
	require.NoError(t, err, "a text model needs no inputs")
	require.Equal(t, 256, m.Generation.ContextLength)

	dir = write(t, head+`,"output":{"kind":"text","name":"text"}}`)
	_, err = LoadManifest(dir, "scribe", "1")
	require.ErrorContains(t, err, "generation: required for output kind text")

	dir = write(t, head+`,"output":{"kind":"text","name":"text"},"generation":{"context_length":8,"vocab_size":256,"tokenizer":"bytes","max_output_tokens":9}}`)
	_, err = LoadManifest(dir, "scribe", "1")
	require.ErrorContains(t, err, "generation.max_output_tokens")

	dir = write(t, head+`,"inputs":[{"name":"x","type":"number"}],"output":{"kind":"regression","name":"y"},"generation":{"context_length":8,"vocab_size":256,"tokenizer":"bytes","max_output_tokens":4}}`)
	_, err = LoadManifest(dir, "scribe", "1")
	require.ErrorContains(t, err, "generation: only for output kind text")
}
