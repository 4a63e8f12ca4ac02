package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/internal/catalog"
)

// Artifact formats, as named by a manifest's format field. Both are
// modelgate's own JSON files, written by training/train.py and documented
// in training/README.md. In both, n_features must equal the number of
// manifest inputs, features are in manifest input order, and the link L
// turns K raw scores per row into the outputs: "softmax" (K = number of
// classes, computed with the maximum subtracted first), "logistic" (K = 1,
// two classes, outputs [1-p, p] with p = 1/(1+exp(-z))) or "identity"
// (K = 1, regression). Unknown fields are rejected.
const (
	// FormatLinear names a linear model:
	//
	//	{"format": "modelgate.linear/v1", "n_features": F, "link": L,
	//	 "coef": [[F numbers] x K], "intercept": [K numbers]}
	//
	// with raw scores z[k] = sum_j coef[k][j]*x[j] + intercept[k].
	FormatLinear = "modelgate.linear/v1"

	// FormatTrees names an additive ensemble of binary decision trees
	// (gradient boosting):
	//
	//	{"format": "modelgate.trees/v1", "n_features": F, "link": L,
	//	 "learning_rate": lr, "init": [K numbers],
	//	 "stages": [[tree x K] x S]}
	//
	// where each tree is scikit-learn's flat node layout, node 0 the root:
	//
	//	{"feature": [...], "threshold": [...], "left": [...], "right": [...], "value": [...]}
	//
	// left[i] == -1 marks a leaf (right[i] must be -1 too); a split node
	// has 0 <= feature[i] < F and two children with indices greater than
	// i, and every other node is the child of exactly one node. A row goes
	// left when float64(float32(x[feature])) <= threshold: scikit-learn
	// converts inputs to float32 before comparing them with its float64
	// thresholds, and matching its predictions needs the same rounding.
	// Raw scores start at init[k] and, stage by stage, add
	// lr*value[leaf] of tree k of the stage.
	FormatTrees = "modelgate.trees/v1"
)

// ErrUnknownFormat is wrapped by the error Load returns for a manifest
// whose format this package cannot evaluate.
var ErrUnknownFormat = errors.New("unknown artifact format")

// Load reads the artifact named by m from the version folder dir and
// returns an engine for it. It validates the artifact against the manifest
// (feature count, class count, output kind) and checks every index in it,
// so Predict on the returned engine cannot fail: it panics only when given
// buffers of the wrong size, with a message saying so. Inputs must be
// finite (the serving layer rejects others, as scikit-learn does); a NaN or
// infinity gives a meaningless output, never a panic.
func Load(m *catalog.Manifest, dir string) (Engine, error) {
	if m == nil {
		return nil, errors.New("engine: nil manifest")
	}
	if !filepath.IsLocal(m.Artifact) {
		return nil, fmt.Errorf("engine: %s/%s: artifact %q must be a relative path inside the version folder",
			m.Name, m.Version, m.Artifact)
	}
	if !knownFormat(m.Format) {
		// Checked before reading, so a missing file does not hide the cause.
		return nil, formatError(m)
	}
	path := filepath.Join(dir, m.Artifact)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %s/%s: read artifact: %w", m.Name, m.Version, err)
	}
	e, err := Parse(m, b)
	if err != nil {
		return nil, fmt.Errorf("%w (artifact %s)", err, path)
	}
	return e, nil
}

// Parse builds an engine from artifact bytes in the format m names,
// validating them against m exactly as Load does.
func Parse(m *catalog.Manifest, artifact []byte) (Engine, error) {
	if m == nil {
		return nil, errors.New("engine: nil manifest")
	}
	if !knownFormat(m.Format) {
		return nil, formatError(m)
	}
	// The artifact must say it is in the manifest's format; checked first,
	// so a mismatched file gets that error rather than an unknown field.
	var probe struct {
		Format string `json:"format"`
	}
	if json.Unmarshal(artifact, &probe) == nil && probe.Format != m.Format {
		return nil, fmt.Errorf("engine: %s/%s: %s: format: artifact says %q, manifest says %q",
			m.Name, m.Version, m.Format, probe.Format, m.Format)
	}
	var (
		e   Engine
		err error
	)
	switch m.Format {
	case FormatLinear:
		e, err = parseLinear(m, artifact)
	case FormatTrees:
		e, err = parseTrees(m, artifact)
	default:
		return nil, formatError(m)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %s/%s: %s: %w", m.Name, m.Version, m.Format, err)
	}
	return e, nil
}

func knownFormat(f string) bool { return f == FormatLinear || f == FormatTrees }

func formatError(m *catalog.Manifest) error {
	return fmt.Errorf("engine: %s/%s: %w %q (supported: %s, %s)",
		m.Name, m.Version, ErrUnknownFormat, m.Format, FormatLinear, FormatTrees)
}

// decodeStrict decodes exactly one JSON object into v, rejecting unknown
// fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("parse: trailing data after the artifact object")
	}
	return nil
}

// header holds the fields both formats share.
type header struct {
	Format    string `json:"format"`
	NFeatures *int   `json:"n_features"`
	Link      string `json:"link"`
}

// check validates the shared fields against the manifest and returns the
// link, the number of raw scores it needs (K) and the output width.
func (h *header) check(m *catalog.Manifest) (l link, k, nOut int, err error) {
	var errs []error
	if h.Format != m.Format {
		// Parse has checked already; kept so check stands on its own.
		errs = append(errs, fmt.Errorf("format: artifact says %q, manifest says %q", h.Format, m.Format))
	}
	switch {
	case h.NFeatures == nil:
		errs = append(errs, errors.New("n_features: required"))
	case *h.NFeatures != len(m.Inputs):
		errs = append(errs, fmt.Errorf("n_features: artifact has %d, manifest lists %d inputs", *h.NFeatures, len(m.Inputs)))
	}
	l, k, nOut, err = linkShape(h.Link, m)
	if err != nil {
		errs = append(errs, err)
	}
	return l, k, nOut, errors.Join(errs...)
}

// link is the function from raw scores to outputs.
type link uint8

const (
	linkIdentity link = iota
	linkLogistic
	linkSoftmax
)

// linkShape checks that the link suits the manifest's output and returns
// the number of raw scores (K) and the output width.
func linkShape(name string, m *catalog.Manifest) (l link, k, nOut int, err error) {
	classes := len(m.Output.Classes)
	switch m.Output.Kind {
	case catalog.KindClassification:
		if classes < 2 {
			return 0, 0, 0, fmt.Errorf("manifest output: classification needs at least two classes, has %d", classes)
		}
		switch name {
		case "softmax":
			return linkSoftmax, classes, classes, nil
		case "logistic":
			if classes != 2 {
				return 0, 0, 0, fmt.Errorf("link: logistic needs exactly two classes, manifest lists %d", classes)
			}
			return linkLogistic, 1, 2, nil
		case "identity":
			return 0, 0, 0, errors.New("link: identity is for regression, manifest output is classification")
		}
	case catalog.KindRegression:
		switch name {
		case "identity":
			return linkIdentity, 1, 1, nil
		case "softmax", "logistic":
			return 0, 0, 0, fmt.Errorf("link: %s is for classification, manifest output is regression", name)
		}
	default:
		return 0, 0, 0, fmt.Errorf("manifest output: kind %q is neither %s nor %s",
			m.Output.Kind, catalog.KindClassification, catalog.KindRegression)
	}
	return 0, 0, 0, fmt.Errorf("link: %q is not one of softmax, logistic, identity", name)
}

// finish turns raw scores into outputs in place: o holds the K raw
// scores in o[:K] on entry and the outputs on return (for logistic, K = 1
// and len(o) = 2).
func (l link) finish(o []float64) {
	switch l {
	case linkSoftmax:
		softmax(o)
	case linkLogistic:
		p := 1 / (1 + math.Exp(-o[0]))
		o[0] = 1 - p
		o[1] = p
	}
}

// softmax replaces v by exp(v)/sum(exp(v)), subtracting the maximum first
// so that no exponent overflows (the order of operations of scikit-learn's
// softmax).
func softmax(v []float64) {
	mx := v[0]
	for _, x := range v[1:] {
		if x > mx {
			mx = x
		}
	}
	var sum float64
	for i, x := range v {
		e := math.Exp(x - mx)
		v[i] = e
		sum += e
	}
	for i := range v {
		v[i] /= sum
	}
}

// checkFinite reports the first non-finite number in v. encoding/json
// already rejects out-of-range literals such as 1e999; this keeps the
// guarantee independent of the decoder.
func checkFinite(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s[%d]: %v is not finite", what, i, x)
		}
	}
	return nil
}

// checkBuffers panics with a clear message when a caller breaks Predict's
// contract (len(x) == n*features, len(out) >= n*outputs). A loaded engine
// never panics otherwise.
func checkBuffers(x []float64, n, features int, out []float64, outputs int) {
	if n < 0 || len(x) != n*features || len(out) < n*outputs {
		badBuffers(len(x), n, features, len(out), outputs)
	}
}

func badBuffers(lx, n, features, lout, outputs int) {
	panic(fmt.Sprintf("engine: Predict: %d rows need len(x) == %d (have %d) and len(out) >= %d (have %d)",
		n, n*features, lx, n*outputs, lout))
}
