package llm

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/catalog"
)

// scribeDir is the committed built-in model.
var scribeDir = filepath.Join("..", "..", "..", "models", "scribe", "1")

var (
	scribeOnce  sync.Once
	scribeModel *Model
	scribeErr   error
)

// loadScribe loads the committed model once for all tests.
func loadScribe(tb testing.TB) *Model {
	tb.Helper()
	scribeOnce.Do(func() {
		var m *catalog.Manifest
		m, scribeErr = catalog.LoadManifest(scribeDir, "scribe", "1")
		if scribeErr == nil {
			scribeModel, scribeErr = loadModel(scribeDir, m)
		}
	})
	require.NoError(tb, scribeErr)
	return scribeModel
}

func TestLoad(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	man, err := catalog.LoadManifest(scribeDir, "scribe", "1")
	require.NoError(t, err)
	require.Equal(t, man.Generation.ContextLength, m.ContextLength())
	require.Equal(t, man.Generation.MaxOutputTokens, m.MaxOutputTokens())
	require.Less(t, m.MaxOutputTokens(), m.ContextLength(), "truncation keeps room for a whole completion")
	require.InDelta(t, man.Metrics["parameters"], float64(m.Parameters()), 0)
	g, err := Load(scribeDir, man)
	require.NoError(t, err)
	require.Equal(t, m.ContextLength(), g.ContextLength())
}

func TestLoad_rejectsMismatchedManifest(t *testing.T) {
	t.Parallel()
	man, err := catalog.LoadManifest(scribeDir, "scribe", "1")
	require.NoError(t, err)
	tests := []struct {
		name   string
		change func(m *catalog.Manifest)
	}{
		{"rejects another format", func(m *catalog.Manifest) { m.Format = "modelgate.linear/v1" }},
		{"rejects another tokenizer", func(m *catalog.Manifest) { m.Generation.Tokenizer = "bpe" }},
		{"rejects a context length the weights lack", func(m *catalog.Manifest) { m.Generation.ContextLength = 512 }},
		{"rejects a vocabulary the weights lack", func(m *catalog.Manifest) { m.Generation.VocabSize = 300 }},
		{"rejects a missing artifact", func(m *catalog.Manifest) { m.Artifact = "absent.safetensors" }},
		{"rejects a tabular manifest", func(m *catalog.Manifest) { m.Output.Kind = catalog.KindRegression }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := *man
			g := *man.Generation
			m.Generation = &g
			tt.change(&m)
			_, err := Load(scribeDir, &m)
			require.Error(t, err)
		})
	}
}

// parityFile is testdata/parity.json, written by training/llm/export.py
// with JAX's logits for committed prompts.
type parityFile struct {
	Framework string `json:"framework"`
	Cases     []struct {
		Tokens    []int32     `json:"tokens"`
		Positions []int       `json:"positions"`
		Logits    [][]float64 `json:"logits"`
	} `json:"cases"`
}

func TestParity(t *testing.T) {
	t.Parallel()
	m := loadScribe(t)
	b, err := os.ReadFile(filepath.Join("testdata", "parity.json"))
	require.NoError(t, err)
	var pf parityFile
	require.NoError(t, json.Unmarshal(b, &pf))
	require.NotEmpty(t, pf.Cases)
	sawFull := false
	for ci, c := range pf.Cases {
		sawFull = sawFull || len(c.Tokens) == m.ContextLength()
		s := m.newState()
		want := map[int][]float64{}
		for i, p := range c.Positions {
			want[p] = c.Logits[i]
		}
		// Token by token through the KV cache, as decoding runs.
		worst := 0.0
		stepped := map[int][]float32{}
		for pos, tok := range c.Tokens {
			m.step(s, tok, pos)
			if _, check := want[pos]; !check {
				continue
			}
			require.Len(t, want[pos], len(s.logits))
			for id, w := range want[pos] {
				worst = max(worst, math.Abs(float64(s.logits[id])-w))
			}
			stepped[pos] = slices.Clone(s.logits)
		}
		t.Logf("case %d (%d tokens): max |go - %s| = %.2e", ci, len(c.Tokens), pf.Framework, worst)
		require.LessOrEqual(t, worst, 1e-4, "case %d", ci)
		// Blocks of prompt tokens, as prefill runs: the very same numbers.
		for pos := range want {
			p := m.newState()
			require.NoError(t, m.prefill(t.Context(), p, c.Tokens[:pos+1]))
			require.Equal(t, stepped[pos], p.logits, "case %d position %d: prefill and step agree exactly", ci, pos)
		}
	}
	require.True(t, sawFull, "one case fills the whole context window")
}
