package engine

import (
	"errors"
	"fmt"
	"math"

	"github.com/modelgate/modelgate/internal/catalog"
)

// linearArtifact is the JSON form of FormatLinear.
type linearArtifact struct {
	header
	Coef      [][]float64 `json:"coef"`
	Intercept []float64   `json:"intercept"`
}

// linearModel evaluates a FormatLinear artifact: K raw scores
// z[k] = coef[k]·x + intercept[k], then the link.
type linearModel struct {
	features  int
	k         int       // raw scores per row
	outputs   int       // values per row in out
	coef      []float64 // k × features, row-major
	intercept []float64 // k
	link      link
}

var _ Engine = (*linearModel)(nil)

func parseLinear(m *catalog.Manifest, b []byte) (*linearModel, error) {
	var a linearArtifact
	if err := decodeStrict(b, &a); err != nil {
		return nil, err
	}
	l, k, nOut, err := a.header.check(m)
	if err != nil {
		return nil, err
	}
	f := len(m.Inputs)
	var errs []error
	if len(a.Coef) != k {
		errs = append(errs, fmt.Errorf("coef: %d rows, link %s with %d outputs needs %d", len(a.Coef), a.Link, nOut, k))
	}
	if len(a.Intercept) != len(a.Coef) {
		errs = append(errs, fmt.Errorf("intercept: %d values for %d coef rows", len(a.Intercept), len(a.Coef)))
	}
	coef := make([]float64, 0, len(a.Coef)*f)
	for i, row := range a.Coef {
		if len(row) != f {
			errs = append(errs, fmt.Errorf("coef[%d]: %d values, manifest lists %d inputs", i, len(row), f))
			continue
		}
		if err := checkFinite(fmt.Sprintf("coef[%d]", i), row); err != nil {
			errs = append(errs, err)
		}
		coef = append(coef, row...)
	}
	if err := checkFinite("intercept", a.Intercept); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &linearModel{features: f, k: k, outputs: nOut, coef: coef, intercept: a.Intercept, link: l}, nil
}

// NumOutputs returns the number of classes, or 1 for a regressor.
func (e *linearModel) NumOutputs() int { return e.outputs }

// Predict evaluates n rows of x into out; see Engine.
func (e *linearModel) Predict(x []float64, n int, out []float64) {
	f, k, no := e.features, e.k, e.outputs
	checkBuffers(x, n, f, out, no)
	coef, icpt := e.coef[:k*f], e.intercept[:k]
	for r := 0; r < n; r++ {
		row := x[r*f : r*f+f]
		o := out[r*no : r*no+no]
		for c := 0; c < k; c++ {
			w := coef[c*f : c*f+f]
			var s float64
			for j, v := range row {
				s += w[j] * v
			}
			o[c] = s + icpt[c]
		}
		if e.link != linkIdentity && !allFinite(o[:k]) {
			e.limitScores(row, o)
			continue
		}
		e.link.finish(o)
	}
}

// limitScores finishes one row whose raw scores overflowed (inputs near
// the float64 range make Inf, or NaN where Inf-Inf met in the sum). It
// computes the scores of the row scaled by its largest magnitude s, which
// are finite, and applies the link to s times them: the softmax takes
// exp((z_c - max z) * s), the logistic the sign of the scaled score. The
// probabilities are then the limit the exact scores tend to, always finite,
// where scikit-learn's float arithmetic gives NaN.
func (e *linearModel) limitScores(row, o []float64) {
	f, k := e.features, e.k
	var scale float64
	for _, v := range row {
		scale = math.Max(scale, math.Abs(v))
	}
	for c := 0; c < k; c++ {
		w := e.coef[c*f : c*f+f]
		var s float64
		for j, v := range row {
			s += w[j] * (v / scale)
		}
		o[c] = s + e.intercept[c]/scale
	}
	switch e.link {
	case linkSoftmax:
		mx := o[0]
		for _, z := range o[1:k] {
			mx = math.Max(mx, z)
		}
		var sum float64
		for c := 0; c < k; c++ {
			o[c] = math.Exp((o[c] - mx) * scale)
			sum += o[c]
		}
		for c := 0; c < k; c++ {
			o[c] /= sum
		}
	default:
		o[0] *= scale // ±Inf at worst, which the logistic maps to 0 or 1
		e.link.finish(o)
	}
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
