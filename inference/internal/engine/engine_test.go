package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelgate/modelgate/internal/catalog"
)

// catalogPath is the repository's model catalog, relative to this package.
const catalogPath = "../../../models/catalog.yaml"

// parityTolerance is the largest difference allowed between a Go output and
// scikit-learn's.
const parityTolerance = 1e-6

// model is one catalog version, loaded.
type model struct {
	name, version, dir string
	manifest           *catalog.Manifest
	engine             Engine
}

// loadCatalog loads every version of every tabular model in the catalog
// (text-generation models are inference/internal/llm's).
func loadCatalog(tb testing.TB) []model {
	tb.Helper()
	c, err := catalog.Load(catalogPath)
	if err != nil {
		tb.Fatal(err)
	}
	var out []model
	for _, name := range c.ModelNames() {
		if c.Models[name].IsLLM() {
			continue
		}
		for _, v := range c.Models[name].Versions {
			dir := c.VersionDir(name, v)
			m, err := catalog.LoadManifest(dir, name, v)
			if err != nil {
				tb.Fatalf("%s/%s: %v", name, v, err)
			}
			e, err := Load(m, dir)
			if err != nil {
				tb.Fatalf("%s/%s: %v", name, v, err)
			}
			out = append(out, model{name: name, version: v, dir: dir, manifest: m, engine: e})
		}
	}
	if len(out) == 0 {
		tb.Fatal("catalog lists no model versions")
	}
	return out
}

// parityFile is parity.json, written by training/train.py.
type parityFile struct {
	Model    string      `json:"model"`
	Version  string      `json:"version"`
	Features []string    `json:"features"`
	Outputs  []string    `json:"outputs"`
	Rows     []parityRow `json:"rows"`
}

type parityRow struct {
	Source string    `json:"source"`
	X      []float64 `json:"x"`
	Proba  []float64 `json:"proba"`
	Label  string    `json:"label"`
	Value  *float64  `json:"value"`
}

func readParity(tb testing.TB, dir string) *parityFile {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "parity.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var p parityFile
	if err := json.Unmarshal(b, &p); err != nil {
		tb.Fatalf("parity.json: %v", err)
	}
	if len(p.Rows) == 0 {
		tb.Fatal("parity.json has no rows")
	}
	return &p
}

// rows flattens the parity rows into Predict's row-major input.
func (p *parityFile) matrix() []float64 {
	var x []float64
	for _, r := range p.Rows {
		x = append(x, r.X...)
	}
	return x
}

func inputNames(m *catalog.Manifest) []string {
	names := make([]string, len(m.Inputs))
	for i, f := range m.Inputs {
		names[i] = f.Name
	}
	return names
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestParity checks the Go evaluator against scikit-learn's own outputs
// for every model version in the catalog.
func TestParity(t *testing.T) {
	for _, md := range loadCatalog(t) {
		t.Run(md.name+"/"+md.version, func(t *testing.T) {
			m, e := md.manifest, md.engine
			p := readParity(t, md.dir)
			if p.Model != md.name || p.Version != md.version {
				t.Fatalf("parity.json is for %s/%s", p.Model, p.Version)
			}
			if !slices.Equal(p.Features, inputNames(m)) {
				t.Fatalf("parity features %v, manifest inputs %v", p.Features, inputNames(m))
			}
			f, no := len(m.Inputs), e.NumOutputs()
			switch m.Output.Kind {
			case catalog.KindClassification:
				if !slices.Equal(p.Outputs, m.Output.Classes) {
					t.Fatalf("parity outputs %v, manifest classes %v", p.Outputs, m.Output.Classes)
				}
				if no != len(m.Output.Classes) {
					t.Fatalf("NumOutputs %d, manifest has %d classes", no, len(m.Output.Classes))
				}
			case catalog.KindRegression:
				if no != 1 {
					t.Fatalf("NumOutputs %d for a regressor", no)
				}
			}

			n := len(p.Rows)
			x := p.matrix()
			if len(x) != n*f {
				t.Fatalf("parity rows have %d values, want %d rows x %d features", len(x), n, f)
			}
			out := make([]float64, n*no)
			e.Predict(x, n, out)

			var worst float64
			single := make([]float64, no)
			for i, r := range p.Rows {
				got := out[i*no : (i+1)*no]
				var want []float64
				if m.Output.Kind == catalog.KindClassification {
					want = r.Proba
				} else {
					if r.Value == nil {
						t.Fatalf("row %d (%s): no value", i, r.Source)
					}
					want = []float64{*r.Value}
				}
				if len(want) != no {
					t.Fatalf("row %d (%s): parity has %d outputs, engine %d", i, r.Source, len(want), no)
				}
				for j := range want {
					d := math.Abs(got[j] - want[j])
					worst = max(worst, d)
					if !(d <= parityTolerance) {
						t.Errorf("row %d (%s) x=%v output %d: go %.17g, scikit-learn %.17g (diff %.3g)",
							i, r.Source, r.X, j, got[j], want[j], d)
					}
				}
				if m.Output.Kind == catalog.KindClassification {
					if label := m.Output.Classes[argmax(got)]; label != r.Label {
						t.Errorf("row %d (%s): go predicts %q, scikit-learn %q", i, r.Source, label, r.Label)
					}
				}
				// One row at a time gives exactly the batch result.
				e.Predict(r.X, 1, single)
				if !slices.Equal(single, got) {
					t.Errorf("row %d (%s): single-row %v, batch %v", i, r.Source, single, got)
				}
			}
			t.Logf("%d rows, largest difference from scikit-learn %.3g", n, worst)
		})
	}
}

// TestPredictDoesNotAllocate checks Predict's zero-allocation contract on
// every catalog model.
func TestPredictDoesNotAllocate(t *testing.T) {
	for _, md := range loadCatalog(t) {
		p := readParity(t, md.dir)
		n := len(p.Rows)
		x := p.matrix()
		out := make([]float64, n*md.engine.NumOutputs())
		allocs := testing.AllocsPerRun(100, func() { md.engine.Predict(x, n, out) })
		if allocs != 0 {
			t.Errorf("%s/%s: Predict allocates %v times per call", md.name, md.version, allocs)
		}
	}
}

// TestConcurrentPredict runs Predict from several goroutines at once on
// shared engines (run with -race).
func TestConcurrentPredict(t *testing.T) {
	for _, md := range loadCatalog(t) {
		p := readParity(t, md.dir)
		n, no := len(p.Rows), md.engine.NumOutputs()
		x := p.matrix()
		want := make([]float64, n*no)
		md.engine.Predict(x, n, want)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Go(func() {
				out := make([]float64, n*no)
				for range 20 {
					md.engine.Predict(x, n, out)
					if !slices.Equal(out, want) {
						t.Errorf("%s/%s: concurrent result differs", md.name, md.version)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// testManifest is a manifest for the fixtures in testdata: four inputs,
// and either the given classes or, with none, a regression output.
func testManifest(format, artifact string, classes ...string) *catalog.Manifest {
	m := &catalog.Manifest{
		Name: "fixture", Version: "1", Format: format, Artifact: artifact,
		Inputs: []catalog.Feature{{Name: "a", Type: "number"}, {Name: "b", Type: "number"},
			{Name: "c", Type: "number"}, {Name: "d", Type: "number"}},
		Output: catalog.Output{Kind: catalog.KindRegression, Name: "y"},
	}
	if len(classes) > 0 {
		m.Output = catalog.Output{Kind: catalog.KindClassification, Name: "y", Classes: classes}
	}
	return m
}

var three = []string{"x", "y", "z"}

func TestLoadErrors(t *testing.T) {
	lin, trees := FormatLinear, FormatTrees
	tests := []struct {
		name     string
		manifest *catalog.Manifest
		want     string // substring of the error
		is       error  // if set, errors.Is must hold
	}{
		{"nil manifest", nil, "nil manifest", nil},
		{"unknown format", testManifest("modelgate.forest/v9", "linear-softmax.json", three...), `unknown artifact format "modelgate.forest/v9"`, ErrUnknownFormat},
		{"empty format", testManifest("", "linear-softmax.json", three...), "unknown artifact format", ErrUnknownFormat},
		{"missing file", testManifest(lin, "bad/absent.json", three...), "read artifact", os.ErrNotExist},
		{"path escapes folder", testManifest(lin, "../engine.go", three...), "relative path inside the version folder", nil},
		{"absolute path", testManifest(lin, "/etc/passwd", three...), "relative path inside the version folder", nil},
		{"not json", testManifest(lin, "bad/not-json.json", three...), "parse:", nil},
		{"truncated", testManifest(lin, "bad/truncated.json", three...), "parse:", nil},
		{"trailing data", testManifest(lin, "bad/trailing.json", three...), "trailing data", nil},
		{"unknown field", testManifest(lin, "bad/unknown-field.json", three...), `unknown field "bias"`, nil},
		{"format mismatch", testManifest(lin, "trees-softmax.json", three...), `format: artifact says "modelgate.trees/v1", manifest says "modelgate.linear/v1"`, nil},
		{"n_features mismatch", testManifest(lin, "bad/linear-n-features.json", three...), "n_features: artifact has 5, manifest lists 4 inputs", nil},
		{"n_features missing", testManifest(lin, "bad/linear-no-n-features.json", three...), "n_features: required", nil},
		{"number out of range", testManifest(lin, "bad/linear-huge-number.json", three...), "parse:", nil},
		{"coef width", testManifest(lin, "bad/linear-coef-width.json", three...), "coef[1]: 3 values, manifest lists 4 inputs", nil},
		{"coef rows vs classes", testManifest(lin, "bad/linear-class-count.json", three...), "coef: 2 rows, link softmax with 3 outputs needs 3", nil},
		{"class count vs artifact", testManifest(lin, "linear-softmax.json", "x", "y", "z", "w"), "coef: 3 rows, link softmax with 4 outputs needs 4", nil},
		{"intercept length", testManifest(lin, "bad/linear-intercept.json", three...), "intercept: 2 values for 3 coef rows", nil},
		{"unknown link", testManifest(lin, "bad/linear-bad-link.json", three...), `link: "relu" is not one of`, nil},
		{"softmax for regression", testManifest(lin, "linear-softmax.json"), "link: softmax is for classification", nil},
		{"identity for classification", testManifest(lin, "linear-identity.json", three...), "link: identity is for regression", nil},
		{"logistic with three classes", testManifest(lin, "linear-logistic.json", three...), "logistic needs exactly two classes", nil},
		{"one class", testManifest(lin, "linear-softmax.json", "x"), "at least two classes", nil},
		{"bad output kind", func() *catalog.Manifest {
			m := testManifest(lin, "linear-softmax.json", three...)
			m.Output.Kind = "ranking"
			return m
		}(), `kind "ranking"`, nil},
		{"left child out of range", testManifest(trees, "bad/trees-left-out-of-range.json", three...), "stages[0][2]: node 0: left child 7 is not a node after 0", nil},
		{"right child out of range", testManifest(trees, "bad/trees-right-out-of-range.json", three...), "stages[0][2]: node 0: right child 3", nil},
		{"cycle", testManifest(trees, "bad/trees-cycle.json", three...), "node 1: left child 0 is not a node after 1", nil},
		{"self loop", testManifest(trees, "bad/trees-self-loop.json", three...), "node 0: left child 0", nil},
		{"shared child", testManifest(trees, "bad/trees-shared-child.json", three...), "node 2: child of both node 0 and node 1", nil},
		{"same child twice", testManifest(trees, "bad/trees-same-children.json", three...), "node 1: child of both node 0 and node 0", nil},
		{"unreachable node", testManifest(trees, "bad/trees-unreachable.json", three...), "node 3: not reachable from the root", nil},
		{"feature out of range", testManifest(trees, "bad/trees-feature-out-of-range.json", three...), "node 0: feature 4 out of range [0, 4)", nil},
		{"negative feature on a split", testManifest(trees, "bad/trees-negative-feature.json", three...), "node 0: feature -2 out of range", nil},
		{"ragged node arrays", testManifest(trees, "bad/trees-ragged.json", three...), "node arrays differ in length", nil},
		{"leaf with a right child", testManifest(trees, "bad/trees-leaf-right.json", three...), "node 1: left is -1 (leaf) but right is 2", nil},
		{"empty tree", testManifest(trees, "bad/trees-empty-tree.json", three...), "tree has no nodes", nil},
		{"fractional index", testManifest(trees, "bad/trees-float-index.json", three...), "parse:", nil},
		{"stage width", testManifest(trees, "bad/trees-stage-width.json", three...), "stages[1]: 2 trees, need one per raw score (3)", nil},
		{"init length", testManifest(trees, "bad/trees-init-length.json", three...), "init: 2 values", nil},
		{"no stages", testManifest(trees, "bad/trees-no-stages.json", three...), "at least one stage", nil},
		{"no learning rate", testManifest(trees, "bad/trees-no-learning-rate.json", three...), "learning_rate: required", nil},
		{"tree classes vs manifest", testManifest(trees, "trees-softmax.json", "x", "y"), "init: 3 values, link softmax with 2 outputs needs 2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Load(tt.manifest, "testdata")
			if err == nil {
				t.Fatalf("Load succeeded (%T), want error containing %q", e, tt.want)
			}
			if e != nil {
				t.Errorf("Load returned an engine with its error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
		})
	}
}

// TestLoadErrorNamesModel checks that an error says which model and file
// it is about.
func TestLoadErrorNamesModel(t *testing.T) {
	m := testManifest(FormatTrees, "bad/trees-cycle.json", three...)
	_, err := Load(m, "testdata")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"fixture/1", FormatTrees, filepath.Join("testdata", "bad", "trees-cycle.json")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-14*max(1, math.Abs(b)) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// TestLinks checks each link on small hand-computed fixtures, covering the
// links the catalog models do not use.
func TestLinks(t *testing.T) {
	e3 := func(a, b, c float64) []float64 {
		s := math.Exp(a) + math.Exp(b) + math.Exp(c)
		return []float64{math.Exp(a) / s, math.Exp(b) / s, math.Exp(c) / s}
	}
	x := []float64{
		1, 2, 3, 4,
		-1, 0.5, 1, 0,
	}
	// Tree fixtures: each tree splits on c <= 2.5, leaf -1 left, +1 right,
	// learning rate 0.5.
	tests := []struct {
		artifact string
		manifest *catalog.Manifest
		want     []float64
	}{
		{"linear-softmax.json", testManifest(FormatLinear, "linear-softmax.json", three...),
			slices.Concat(e3(1, 2, 3), e3(-1, 0.5, 1))},
		{"linear-logistic.json", testManifest(FormatLinear, "linear-logistic.json", "no", "yes"),
			[]float64{1 - sigmoid(-0.5), sigmoid(-0.5), 1 - sigmoid(-1), sigmoid(-1)}},
		{"linear-identity.json", testManifest(FormatLinear, "linear-identity.json"),
			[]float64{10 + 1 + 4 + 9 + 16, 10 - 1 + 1 + 3}},
		{"trees-softmax.json", testManifest(FormatTrees, "trees-softmax.json", three...),
			slices.Concat(e3(0.6, 0.7, 0.8), e3(-0.4, -0.3, -0.2))},
		{"trees-logistic.json", testManifest(FormatTrees, "trees-logistic.json", "no", "yes"),
			[]float64{1 - sigmoid(1.25), sigmoid(1.25), 1 - sigmoid(-0.75), sigmoid(-0.75)}},
		{"trees-identity.json", testManifest(FormatTrees, "trees-identity.json"),
			[]float64{101, 99}},
	}
	for _, tt := range tests {
		t.Run(tt.artifact, func(t *testing.T) {
			e, err := Load(tt.manifest, "testdata")
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float64, len(tt.want))
			e.Predict(x, 2, out)
			for i := range out {
				if !near(out[i], tt.want[i]) {
					t.Errorf("out[%d] = %.17g, want %.17g", i, out[i], tt.want[i])
				}
			}
		})
	}
}

// TestSoftmaxStable checks that huge raw scores give probabilities, not
// NaN: the maximum is subtracted before exponentiating.
func TestSoftmaxStable(t *testing.T) {
	e, err := Load(testManifest(FormatLinear, "linear-softmax.json", three...), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 3)
	e.Predict([]float64{1e6, 2e6, 3e6, 0}, 1, out)
	if !slices.Equal(out, []float64{0, 0, 1}) {
		t.Errorf("softmax of huge scores = %v, want [0 0 1]", out)
	}
	e.Predict([]float64{-1e6, -1e6, -1e6, 0}, 1, out)
	for _, p := range out {
		if !near(p, 1.0/3) {
			t.Errorf("softmax of equal huge negative scores = %v, want thirds", out)
		}
	}
}

// TestFloat32Threshold pins scikit-learn's comparison: the input is
// rounded to float32 and then compared with the float64 threshold.
func TestFloat32Threshold(t *testing.T) {
	// a and b are adjacent float32 values, b with an even significand, so
	// their float64 midpoint, as a float32, rounds (ties to even) up to b.
	a := math.Nextafter32(1, 2)
	b := math.Nextafter32(a, 2)
	thr := float64(a)/2 + float64(b)/2
	if float64(float32(thr)) != float64(b) {
		t.Fatalf("test setup: float32(%v) = %v, want %v", thr, float32(thr), b)
	}
	art, err := json.Marshal(map[string]any{
		"format": FormatTrees, "n_features": 4, "link": "identity", "learning_rate": 1.0, "init": []float64{0},
		"stages": [][]map[string]any{{{
			"feature": []int{0, -2, -2}, "threshold": []float64{thr, -2, -2},
			"left": []int{1, -1, -1}, "right": []int{2, -1, -1}, "value": []float64{0, -1, 1},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(testManifest(FormatTrees, "inline"), art)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x    float64
		want float64
	}{
		{thr, 1},                     // float64 thr <= thr, but float32 rounds up past it: right
		{float64(a), -1},             // exactly a: left
		{math.Nextafter(thr, 0), -1}, // rounds down to a: left
		{math.Nextafter(thr, 2), 1},  // rounds up to b: right
		{float64(b), 1},              // b > thr: right
		{math.Inf(-1), -1},           // out of contract, but no panic
		{math.NaN(), 1},              // NaN <= t is false: right
	} {
		out := []float64{0}
		e.Predict([]float64{tc.x, 0, 0, 0}, 1, out)
		if out[0] != tc.want {
			t.Errorf("x=%.17g: got %v, want %v", tc.x, out[0], tc.want)
		}
	}
}

// TestPredictBadBuffers checks that breaking Predict's contract panics
// with a message that says how, rather than an index error.
func TestPredictBadBuffers(t *testing.T) {
	e, err := Load(testManifest(FormatTrees, "trees-softmax.json", three...), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x   []float64
		n   int
		out []float64
	}{
		{make([]float64, 7), 2, make([]float64, 6)},
		{make([]float64, 8), 2, make([]float64, 5)},
		{make([]float64, 8), -1, make([]float64, 6)},
	} {
		func() {
			defer func() {
				r := recover()
				if msg := fmt.Sprint(r); !strings.Contains(msg, "engine: Predict:") {
					t.Errorf("len(x)=%d n=%d len(out)=%d: panic %v", len(tc.x), tc.n, len(tc.out), r)
				}
			}()
			e.Predict(tc.x, tc.n, tc.out)
		}()
	}
	// n = 0 is fine.
	e.Predict(nil, 0, nil)
}
