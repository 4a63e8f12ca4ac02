package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/inference/internal/scoring"
)

// chunkRows is how many rows one scoring call takes: a job of 100,000 rows
// is scored in chunks so the context is checked between them and no
// buffer grows with the job.
const chunkRows = 1000

// Tabular runs prediction jobs with the same scoring code as /v2/predict.
type Tabular struct {
	reg    *atomic.Pointer[registry.Registry]
	scorer *scoring.Scorer
}

// NewTabular returns the runner over the registry (which a reload may
// swap).
func NewTabular(reg *atomic.Pointer[registry.Registry]) *Tabular {
	return &Tabular{reg: reg, scorer: scoring.New(scoring.Config{MaxBatchRows: chunkRows})}
}

var _ Runner = (*Tabular)(nil)

// Run implements [Runner.Run]: the result is the /v2/predict answer, the
// problem one the synchronous route would have answered.
func (t *Tabular) Run(ctx context.Context, model, version string, input json.RawMessage) (Outcome, error) {
	var req predict.V2Request
	if err := json.Unmarshal(input, &req); err != nil {
		return Outcome{}, fmt.Errorf("decode job input: %w", err)
	}
	v, err := t.reg.Load().Resolve(model, version)
	if err != nil {
		return Outcome{Problem: problemJSON(problem.TypeUnknownVersion, 404, "Unknown model version", err.Error(), nil)}, nil
	}
	resp := predict.V2Response{Model: model, ModelVersion: v.ID(), Predictions: make([]predict.Prediction, 0, len(req.Inputs))}
	for start := 0; start < len(req.Inputs); start += chunkRows {
		if err := ctx.Err(); err != nil {
			return Outcome{}, err
		}
		end := min(start+chunkRows, len(req.Inputs))
		b, err := t.scorer.Rows(v, req.Inputs[start:end])
		if err != nil {
			return outcomeOf(err, start)
		}
		resp.Predictions = append(resp.Predictions, b.V2Predictions(req.Options)...)
		b.Release()
	}
	resp.Usage.Rows = len(req.Inputs)
	out, err := json.Marshal(resp)
	if err != nil {
		return Outcome{}, fmt.Errorf("encode result: %w", err)
	}
	return Outcome{Result: out, Rows: len(req.Inputs)}, nil
}

// outcomeOf turns a scoring error of the chunk at offset into a failed
// job's problem; pointers are shifted to the job's row numbers.
func outcomeOf(err error, offset int) (Outcome, error) {
	var ve *scoring.ValidationError
	var nt *scoring.NotTabularError
	switch {
	case errors.As(err, &ve):
		vs := make([]problem.Violation, len(ve.Violations))
		for i, v := range ve.Violations {
			vs[i] = v
			var row int
			var rest string
			if n, _ := fmt.Sscanf(v.Pointer, "/inputs/%d%s", &row, &rest); n >= 1 {
				vs[i].Pointer = fmt.Sprintf("/inputs/%d%s", row+offset, rest)
			}
		}
		return Outcome{Problem: problemJSON(problem.TypeValidation, 400, "Validation failed", ve.Error(), vs)}, nil
	case errors.As(err, &nt):
		return Outcome{Problem: problemJSON(problem.TypeWrongModelKind, 400, "Wrong model kind", nt.Error(), nil)}, nil
	}
	return Outcome{}, err
}

func problemJSON(typ string, status int, title, detail string, vs []problem.Violation) json.RawMessage {
	p := problem.New(typ, status, title, detail)
	p.Errors = vs
	return p.JSON()
}
