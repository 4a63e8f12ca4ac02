package processor

import (
	"encoding/json"

	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/catalog"
)

// predictRoute describes what differs between the prediction routes.
type predictRoute struct {
	schema string
	// idField is the top-level response member carrying the request id.
	idField string
	// cacheFields are the body members that determine the prediction,
	// sorted; everything else (model, version, ids) is in the key already
	// or does not change the answer.
	cacheFields []string
	// target returns the model and the version or alias named by the body
	// or path ("" when none).
	target func(c *catalog.Catalog, m routing.Match, doc map[string]any) (model, version string)
	rows   func(doc map[string]any) int
	// bodyID returns the id the response must carry on a cache hit when
	// the request names one itself.
	bodyID func(doc map[string]any) string
	// oip marks the Open Inference Protocol route: an absent content type
	// means JSON, and the binary tensor data extension is accepted.
	oip bool
	// tabularOnly refuses a text-generation model (400) instead of
	// leaving that to the model server.
	tabularOnly bool
}

var (
	v1Route = predictRoute{
		schema: policy.V1PredictRequest, idField: "request_id", cacheFields: []string{"inputs", "options"},
		target: func(c *catalog.Catalog, _ routing.Match, doc map[string]any) (string, string) {
			return c.DefaultModel, str(doc["model_version"])
		},
		rows:   rowCount,
		bodyID: func(map[string]any) string { return "" },
	}
	v2Route = predictRoute{
		schema: policy.V2PredictRequest, idField: "request_id", cacheFields: []string{"inputs", "options"},
		target: func(_ *catalog.Catalog, _ routing.Match, doc map[string]any) (string, string) {
			return str(doc["model"]), str(doc["version"])
		},
		rows:   rowCount,
		bodyID: func(map[string]any) string { return "" },
	}
	// jobsRoute is POST /v2/jobs with inputs: the rows are checked as
	// for /v2/predict; the answer is a job, never cached.
	jobsRoute = predictRoute{
		schema: policy.JobRequest, idField: "request_id",
		target: func(_ *catalog.Catalog, _ routing.Match, doc map[string]any) (string, string) {
			return str(doc["model"]), str(doc["version"])
		},
		rows:        rowCount,
		bodyID:      func(map[string]any) string { return "" },
		tabularOnly: true,
	}
	inferRoute = predictRoute{
		// The Open Inference Protocol echoes the request's "id" (or the
		// request id when there is none), so it stays out of the key and
		// is written into the body of a hit.
		schema: policy.InferRequest, idField: "id", cacheFields: []string{"inputs", "outputs", "parameters"},
		target: func(_ *catalog.Catalog, m routing.Match, _ map[string]any) (string, string) {
			return m.Model, m.Version
		},
		rows:   tensorRows,
		bodyID: func(doc map[string]any) string { return str(doc["id"]) },
		oip:    true,
	}
)

func str(v any) string {
	s, _ := v.(string)
	return s
}

// rowCount counts the rows of a tabular body.
func rowCount(doc map[string]any) int {
	rows, _ := doc["inputs"].([]any)
	return len(rows)
}

// tensorRows is the largest first dimension of the input tensors: the
// batch size of an Open Inference Protocol request.
func tensorRows(doc map[string]any) int {
	inputs, _ := doc["inputs"].([]any)
	n := 0
	for _, in := range inputs {
		t, _ := in.(map[string]any)
		shape, _ := t["shape"].([]any)
		if len(shape) == 0 {
			continue
		}
		if d, ok := shape[0].(json.Number); ok {
			if v, err := d.Int64(); err == nil && int(v) > n {
				n = int(v)
			}
		}
	}
	return n
}
