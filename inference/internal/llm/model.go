package llm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/modelgate/modelgate/internal/catalog"
)

// FormatTransformer names the built-in model's artifact format: one
// safetensors file of F32 tensors written by training/llm/export.py, with
// the architecture in the header's __metadata__ (n_layer, d_model, n_head,
// d_hidden, rope_theta, norm_eps, vocab_size, context_length). Tensors are
// "embed" [vocab, d] (also the output head: the weights are tied),
// "final_norm" [d] and, per layer i, "layers.i.attn_norm" [d], "layers.i.wq",
// "wk", "wv", "wo" [d, d], "layers.i.mlp_norm" [d], "layers.i.w_gate",
// "w_up" [hidden, d] and "layers.i.w_down" [d, hidden]. Linear weights are
// [out, in]: y = W x.
const FormatTransformer = "modelgate.transformer/v1"

// EndOfText is the token id that ends a text: the model emits it after a
// verse, and the chat template ends every message with it. Ids 0-255 are
// the bytes of UTF-8 text.
const EndOfText = 256

// config is the architecture, read from the artifact's metadata.
type config struct {
	vocab, ctx, layers, dim, heads, hidden int
	theta, eps                             float64
}

// layer holds one transformer block's weights.
type layer struct {
	attnNorm, mlpNorm []float32
	wq, wk, wv, wo    []float32
	gate, up, down    []float32
}

// Model is the built-in byte-level transformer. It is read-only once
// loaded; each generation takes a preallocated state from a pool.
type Model struct {
	cfg       config
	maxOut    int
	embed     []float32 // [vocab][dim], also the output head
	finalNorm []float32
	layers    []layer
	// cos and sin are the rotary tables, [ctx][headDim/2].
	cos, sin []float32
	states   sync.Pool
}

var _ Generator = (*Model)(nil)

// Load reads the version folder dir described by m (an output kind
// "text" manifest whose format is [FormatTransformer]) and returns its
// Generator.
func Load(dir string, m *catalog.Manifest) (Generator, error) {
	return loadModel(dir, m)
}

func loadModel(dir string, m *catalog.Manifest) (*Model, error) {
	if m.Output.Kind != catalog.KindText || m.Generation == nil {
		return nil, errors.New("llm: manifest is not a text-generation model")
	}
	if m.Format != FormatTransformer {
		return nil, fmt.Errorf("llm: format %q, want %q", m.Format, FormatTransformer)
	}
	if m.Generation.Tokenizer != catalog.TokenizerBytes {
		return nil, fmt.Errorf("llm: tokenizer %q, want %q", m.Generation.Tokenizer, catalog.TokenizerBytes)
	}
	b, err := os.ReadFile(filepath.Join(dir, m.Artifact))
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	f, err := parseSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: %w", m.Artifact, err)
	}
	model, err := newModel(f)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: %w", m.Artifact, err)
	}
	g := m.Generation
	var errs []error
	if g.ContextLength != model.cfg.ctx {
		errs = append(errs, fmt.Errorf("manifest context_length %d, artifact %d", g.ContextLength, model.cfg.ctx))
	}
	if g.VocabSize != model.cfg.vocab {
		errs = append(errs, fmt.Errorf("manifest vocab_size %d, artifact %d", g.VocabSize, model.cfg.vocab))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	model.maxOut = g.MaxOutputTokens
	return model, nil
}

// newModel builds a model from parsed tensors, checking every shape. The
// output length limit defaults to the whole context.
func newModel(f *tensorFile) (*Model, error) {
	var cfg config
	ints := []struct {
		key string
		dst *int
	}{
		{"vocab_size", &cfg.vocab}, {"context_length", &cfg.ctx}, {"n_layer", &cfg.layers},
		{"d_model", &cfg.dim}, {"n_head", &cfg.heads}, {"d_hidden", &cfg.hidden},
	}
	var errs []error
	for _, e := range ints {
		v, err := strconv.Atoi(f.metadata[e.key])
		if err != nil || v < 1 || v > 1<<16 {
			errs = append(errs, fmt.Errorf("metadata %s: %q is not a size", e.key, f.metadata[e.key]))
		}
		*e.dst = v
	}
	for _, e := range []struct {
		key string
		dst *float64
	}{{"rope_theta", &cfg.theta}, {"norm_eps", &cfg.eps}} {
		v, err := strconv.ParseFloat(f.metadata[e.key], 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("metadata %s: %q is not a positive number", e.key, f.metadata[e.key]))
		}
		*e.dst = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.vocab <= EndOfText {
		return nil, fmt.Errorf("vocab_size %d has no end-of-text id %d", cfg.vocab, EndOfText)
	}
	if cfg.dim%cfg.heads != 0 || (cfg.dim/cfg.heads)%2 != 0 {
		return nil, fmt.Errorf("d_model %d does not split into %d heads of even size", cfg.dim, cfg.heads)
	}
	m := &Model{cfg: cfg, maxOut: cfg.ctx}
	d, h := cfg.dim, cfg.hidden
	take := func(name string, shape ...int) []float32 {
		t, err := f.take(name, shape...)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	m.embed = take("embed", cfg.vocab, d)
	m.finalNorm = take("final_norm", d)
	m.layers = make([]layer, cfg.layers)
	for i := range m.layers {
		p := "layers." + strconv.Itoa(i) + "."
		m.layers[i] = layer{
			attnNorm: take(p+"attn_norm", d),
			wq:       take(p+"wq", d, d),
			wk:       take(p+"wk", d, d),
			wv:       take(p+"wv", d, d),
			wo:       take(p+"wo", d, d),
			mlpNorm:  take(p+"mlp_norm", d),
			gate:     take(p+"w_gate", h, d),
			up:       take(p+"w_up", h, d),
			down:     take(p+"w_down", d, h),
		}
	}
	if want := 2 + 9*cfg.layers; len(f.tensors) != want {
		errs = append(errs, fmt.Errorf("%d tensors, want %d", len(f.tensors), want))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m.ropeTables()
	m.states.New = func() any { return m.newState() }
	return m, nil
}

// ropeTables precomputes cos and sin of pos * theta^(-2k/headDim) for every
// position and frequency, in float64 then rounded, as the training code
// does.
func (m *Model) ropeTables() {
	hd := m.cfg.dim / m.cfg.heads
	half := hd / 2
	m.cos = make([]float32, m.cfg.ctx*half)
	m.sin = make([]float32, m.cfg.ctx*half)
	for p := 0; p < m.cfg.ctx; p++ {
		for k := 0; k < half; k++ {
			inv := 1 / math.Pow(m.cfg.theta, float64(2*k)/float64(hd))
			a := float64(p) * inv
			m.cos[p*half+k] = float32(math.Cos(a))
			m.sin[p*half+k] = float32(math.Sin(a))
		}
	}
}

// ContextLength implements [Generator.ContextLength].
func (m *Model) ContextLength() int { return m.cfg.ctx }

// MaxOutputTokens implements [Generator.MaxOutputTokens].
func (m *Model) MaxOutputTokens() int { return m.maxOut }

// Parameters is the number of weights (the tied embedding counted once).
func (m *Model) Parameters() int {
	n := len(m.embed) + len(m.finalNorm)
	for _, l := range m.layers {
		n += len(l.attnNorm) + len(l.mlpNorm) + len(l.wq) + len(l.wk) + len(l.wv) + len(l.wo) +
			len(l.gate) + len(l.up) + len(l.down)
	}
	return n
}
