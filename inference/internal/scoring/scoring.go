// Package scoring evaluates model versions on client input: rows of named
// features (the /v1 and /v2 predict contracts) or Open Inference Protocol
// tensors in, predictions out. It knows nothing of HTTP, so the request
// handlers and an asynchronous job worker score the same way. Problems with
// the input are typed errors: *ValidationError lists every violation by
// JSON Pointer, *TooManyRowsError reports a batch over the limit.
package scoring

import (
	"fmt"
	"sync"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// maxViolations bounds how many violations one error lists, so a hostile
// 1 MiB body cannot make the answer larger than the request.
const maxViolations = 1000

// Config tunes a Scorer.
type Config struct {
	// MaxBatchRows is the most rows one batch may hold.
	MaxBatchRows int
}

// Scorer validates input against a version's features and evaluates it.
// It is safe for concurrent use.
type Scorer struct {
	cfg  Config
	bufs sync.Pool // *[]float64, reused between batches
}

// New returns a Scorer.
func New(cfg Config) *Scorer {
	s := &Scorer{cfg: cfg}
	s.bufs.New = func() any { b := make([]float64, 0, 1024); return &b }
	return s
}

// ValidationError lists every problem found in the input, each located by a
// JSON Pointer into the request.
type ValidationError struct {
	Violations []problem.Violation
}

func (e *ValidationError) Error() string {
	if len(e.Violations) == 0 {
		return "invalid input"
	}
	return fmt.Sprintf("%d violation(s): %s: %s", len(e.Violations), e.Violations[0].Pointer, e.Violations[0].Detail)
}

// TooManyRowsError reports a batch over the row limit.
type TooManyRowsError struct {
	Rows, Limit int
}

func (e *TooManyRowsError) Error() string {
	return fmt.Sprintf("the request has %d rows; the limit is %d", e.Rows, e.Limit)
}

// NotTabularError reports a version that cannot score rows or tensors: it
// generates text.
type NotTabularError struct {
	Model, Version string
}

func (e *NotTabularError) Error() string {
	return fmt.Sprintf("model %q version %q generates text; use /v1/chat/completions or /v1/completions", e.Model, e.Version)
}

// Tabular returns a *NotTabularError unless v scores rows and tensors.
func Tabular(v *registry.Version) error {
	if v.Engine == nil {
		return &NotTabularError{Model: v.Name(), Version: v.ID()}
	}
	return nil
}

// Batch is one evaluated batch. Its outputs live in a pooled buffer:
// call Release once the predictions have been written out.
type Batch struct {
	// Version is the version that scored the batch.
	Version *registry.Version
	n       int
	out     []float64 // n*NumOutputs
	buf     *[]float64
	pool    *sync.Pool
	wanted  map[string]bool // OIP outputs asked for; nil means all
}

// Rows is the number of rows scored.
func (b *Batch) Rows() int { return b.n }

// Output returns row i's outputs: the class probabilities in manifest class
// order for a classifier, the single value for a regressor. It is only
// valid until Release.
func (b *Batch) Output(i int) []float64 {
	k := b.Version.Engine.NumOutputs()
	return b.out[i*k : (i+1)*k]
}

// Label returns row i's most probable class; only for classifiers.
func (b *Batch) Label(i int) string {
	return b.Version.Manifest.Output.Classes[argmax(b.Output(i))]
}

// Release returns the batch's buffer to the pool; the batch and any slice
// taken from it must not be used after.
func (b *Batch) Release() {
	if b.buf != nil {
		b.pool.Put(b.buf)
		b.buf, b.out = nil, nil
	}
}

// buffer takes a pooled slice of n values.
func (s *Scorer) buffer(n int) *[]float64 {
	bp := s.bufs.Get().(*[]float64)
	if cap(*bp) < n {
		*bp = make([]float64, n)
	}
	*bp = (*bp)[:n]
	return bp
}

// evaluate runs the engine on n rows of x into out, which is the tail of
// the pooled buffer bp, and wraps the result.
func (s *Scorer) evaluate(v *registry.Version, x []float64, n int, out []float64, bp *[]float64) *Batch {
	v.Engine.Predict(x, n, out)
	return &Batch{Version: v, n: n, out: out, buf: bp, pool: &s.bufs}
}

// violations collects violations up to maxViolations.
type violations []problem.Violation

func (vs *violations) add(pointer, detail string) {
	if len(*vs) < maxViolations {
		*vs = append(*vs, problem.Violation{Pointer: pointer, Detail: detail})
	}
}

func (vs violations) err() error {
	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{Violations: vs}
}

func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}
