package scoring

import (
	"bytes"
	"math"
	"sort"
	"strconv"

	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// Rows checks rows against the version's features and scores them. Every
// missing, unknown or non-numeric feature is reported in one
// *ValidationError, as is an empty batch; a nil row counts as already
// reported (the decoder found it was not an object). More rows than the
// limit is a *TooManyRowsError.
func (s *Scorer) Rows(v *registry.Version, rows []predict.Row) (*Batch, error) {
	if err := Tabular(v); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &ValidationError{Violations: []problem.Violation{{Pointer: "/inputs", Detail: "empty: at least one row is required"}}}
	}
	if len(rows) > s.cfg.MaxBatchRows {
		return nil, &TooManyRowsError{Rows: len(rows), Limit: s.cfg.MaxBatchRows}
	}
	n, nf, k := len(rows), len(v.Manifest.Inputs), v.Engine.NumOutputs()
	bp := s.buffer(n*nf + n*k)
	x, out := (*bp)[:n*nf], (*bp)[n*nf:]
	if err := matrix(v, rows, x).err(); err != nil {
		s.bufs.Put(bp)
		return nil, err
	}
	return s.evaluate(v, x, n, out, bp), nil
}

// CheckRows reports what [Scorer.Rows] would find wrong with rows, without
// scoring them: for a request whose body already failed validation, so all
// problems are listed at once.
func CheckRows(v *registry.Version, rows []predict.Row) []problem.Violation {
	return matrix(v, rows, make([]float64, len(rows)*len(v.Manifest.Inputs)))
}

// matrix converts rows into the engine's row-major input x using the
// version's feature order, collecting every violation.
func matrix(v *registry.Version, rows []predict.Row, x []float64) violations {
	var vs violations
	feats := v.Manifest.Inputs
	nf := len(feats)
	for i, row := range rows {
		if row == nil { // already reported as not an object
			continue
		}
		idx := strconv.Itoa(i)
		for j, f := range feats {
			raw, ok := row[f.Name]
			if !ok {
				vs.add(problem.Pointer("inputs", idx, f.Name), "missing")
				continue
			}
			val, msg := parseNumber(raw)
			if msg != "" {
				vs.add(problem.Pointer("inputs", idx, f.Name), msg)
				continue
			}
			x[i*nf+j] = val
		}
		var unknown []string
		for k := range row {
			if _, ok := v.Index[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			vs.add(problem.Pointer("inputs", idx, k), "unknown feature")
		}
	}
	return vs
}

// parseNumber parses a raw JSON number into a finite float64; the string
// is the violation otherwise.
func parseNumber(raw []byte) (float64, string) {
	if k := rawjson.Kind(raw); k != "number" {
		return 0, "wrong type: expected number, got " + k
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, "not a finite number"
	}
	return f, ""
}
