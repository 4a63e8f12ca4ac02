package jobs_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/jobs"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

const irisRow = `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`

func newTabular(t *testing.T) *jobs.Tabular {
	reg, err := registry.Load("../../../models/catalog.yaml", []config.Selection{{Model: "iris", Version: "2"}})
	require.NoError(t, err)
	var p atomic.Pointer[registry.Registry]
	p.Store(reg)
	return jobs.NewTabular(&p)
}

func TestTabular_Run(t *testing.T) {
	t.Parallel()
	r := newTabular(t)
	t.Run("scores every row, in chunks, as /v2/predict answers", func(t *testing.T) {
		input := `{"inputs":[` + strings.TrimSuffix(strings.Repeat(irisRow+",", 2500), ",") + `],"options":{"return_probabilities":true}}`
		out, err := r.Run(t.Context(), "iris", "2", json.RawMessage(input))
		require.NoError(t, err)
		require.Nil(t, out.Problem)
		require.Equal(t, 2500, out.Rows)
		var res struct {
			ModelVersion string `json:"model_version"`
			Predictions  []struct {
				Label         string
				Probabilities map[string]float64
			}
			Usage struct{ Rows int }
		}
		require.NoError(t, json.Unmarshal(out.Result, &res))
		require.Equal(t, "2", res.ModelVersion)
		require.Len(t, res.Predictions, 2500)
		require.Equal(t, "setosa", res.Predictions[2499].Label)
		require.NotEmpty(t, res.Predictions[0].Probabilities)
	})
	t.Run("a bad row fails the job with its pointer in the job's rows", func(t *testing.T) {
		rows := strings.Repeat(irisRow+",", 1200) + `{"sepal_length":"x"}`
		out, err := r.Run(t.Context(), "iris", "2", json.RawMessage(`{"inputs":[`+rows+`]}`))
		require.NoError(t, err)
		require.Contains(t, string(out.Problem), `"pointer":"/inputs/1200/sepal_length"`)
	})
	t.Run("a version no longer served fails the job", func(t *testing.T) {
		out, err := r.Run(t.Context(), "iris", "9", json.RawMessage(`{"inputs":[`+irisRow+`]}`))
		require.NoError(t, err)
		require.Contains(t, string(out.Problem), "unknown-model-version")
	})
}
