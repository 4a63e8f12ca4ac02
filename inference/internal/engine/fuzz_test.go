package engine

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelgate/modelgate/internal/catalog"
)

// fuzzManifests are the manifests FuzzLoadArtifact parses against: the
// catalog's own and the test fixtures' shapes (multiclass, binary,
// regression) in both formats.
func fuzzManifests(tb testing.TB) []*catalog.Manifest {
	var ms []*catalog.Manifest
	for _, md := range loadCatalog(tb) {
		ms = append(ms, md.manifest)
	}
	for _, format := range []string{FormatLinear, FormatTrees} {
		ms = append(ms,
			testManifest(format, "x", three...),
			testManifest(format, "x", "no", "yes"),
			testManifest(format, "x"))
	}
	return ms
}

// shrinkSeed cuts a real tree artifact down to its first two stages: the
// same structure, but small enough for the fuzzer to mutate and minimize
// quickly (the full artifacts are about 100 KB).
func shrinkSeed(tb testing.TB, m *catalog.Manifest, b []byte) []byte {
	if m.Format != FormatTrees {
		return b
	}
	var a treesArtifact
	if err := json.Unmarshal(b, &a); err != nil {
		tb.Fatal(err)
	}
	a.Stages = a.Stages[:min(2, len(a.Stages))]
	out, err := json.Marshal(&a)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// FuzzLoadArtifact feeds arbitrary bytes to the artifact parser: it must
// return an error or an engine, never panic, and an engine it returns must
// evaluate any rows without panicking.
func FuzzLoadArtifact(f *testing.F) {
	ms := fuzzManifests(f)
	for i, m := range ms {
		if m.Name == "fixture" {
			continue
		}
		c, err := catalog.Load(catalogPath)
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(c.VersionDir(m.Name, m.Version), m.Artifact))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), shrinkSeed(f, m, b))
	}
	fixtures, _ := filepath.Glob("testdata/*.json")
	bad, _ := filepath.Glob("testdata/bad/*.json")
	for i, path := range append(fixtures, bad...) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		m := ms[int(which)%len(ms)]
		e, err := Parse(m, data)
		if err != nil {
			if e != nil {
				t.Fatal("engine returned with an error")
			}
			return
		}
		nf, no := len(m.Inputs), e.NumOutputs()
		if no < 1 {
			t.Fatalf("NumOutputs = %d", no)
		}
		// Rows: zeros, values taken from the input bytes, and extremes.
		rows := [][]float64{make([]float64, nf)}
		r := make([]float64, nf)
		for j := range r {
			if len(data) >= 8*(j+1) {
				r[j] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*j:]))
			}
		}
		rows = append(rows, r)
		for _, v := range []float64{math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, -math.MaxFloat64} {
			row := make([]float64, nf)
			for j := range row {
				row[j] = v
			}
			rows = append(rows, row)
		}
		out := make([]float64, no)
		for _, row := range rows {
			e.Predict(row, 1, out)
		}
	})
}
