package scoring

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

func loadVersion(t *testing.T, model, version string) *registry.Version {
	t.Helper()
	reg, err := registry.Load("../../../models/catalog.yaml", nil)
	require.NoError(t, err)
	v, err := reg.Resolve(model, version)
	require.NoError(t, err)
	return v
}

func irisRow(vals ...string) predict.Row {
	row := predict.Row{}
	for i, name := range []string{"sepal_length", "sepal_width", "petal_length", "petal_width"} {
		if i < len(vals) {
			row[name] = json.RawMessage(vals[i])
		}
	}
	return row
}

func pointers(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	out := make([]string, len(ve.Violations))
	for i, v := range ve.Violations {
		out[i] = v.Pointer
	}
	return out
}

func TestScorer_Rows(t *testing.T) {
	t.Parallel()
	v := loadVersion(t, "iris", "2")
	s := New(Config{MaxBatchRows: 2})
	tests := []struct {
		name         string
		rows         []predict.Row
		wantLabels   []string
		wantPointers []string
		wantTooMany  bool
	}{
		{name: "scores rows in manifest feature order", rows: []predict.Row{irisRow("5.1", "3.5", "1.4", "0.2"), irisRow("6.7", "3.0", "5.2", "2.3")},
			wantLabels: []string{"setosa", "virginica"}},
		{name: "lists every row problem by pointer", rows: []predict.Row{irisRow("5", `"3"`, "1"), nil},
			wantPointers: []string{"/inputs/0/sepal_width", "/inputs/0/petal_width"}},
		{name: "reports unknown features with escaped pointers", rows: []predict.Row{func() predict.Row {
			r := irisRow("5", "3", "1", "1")
			r["a/b"] = json.RawMessage("1")
			return r
		}()}, wantPointers: []string{"/inputs/0/a~1b"}},
		{name: "refuses an empty batch", rows: nil, wantPointers: []string{"/inputs"}},
		{name: "refuses more rows than the limit", rows: make([]predict.Row, 3), wantTooMany: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := s.Rows(v, tc.rows)
			switch {
			case tc.wantTooMany:
				var tm *TooManyRowsError
				require.ErrorAs(t, err, &tm)
				require.Equal(t, TooManyRowsError{Rows: 3, Limit: 2}, *tm)
			case tc.wantPointers != nil:
				require.Nil(t, b)
				require.ElementsMatch(t, tc.wantPointers, pointers(t, err))
			default:
				require.NoError(t, err)
				defer b.Release()
				require.Equal(t, len(tc.wantLabels), b.Rows())
				for i, want := range tc.wantLabels {
					require.Equal(t, want, b.Label(i))
					require.Len(t, b.Output(i), 3, "one probability per class")
				}
				require.Equal(t, []any{"setosa", "virginica"}, b.V1Predictions())
			}
		})
	}
}

func TestCheckRows(t *testing.T) {
	t.Parallel()
	v := loadVersion(t, "iris", "2")
	require.Empty(t, CheckRows(v, []predict.Row{irisRow("5", "3", "1", "1")}))
	require.Equal(t, []problem.Violation{{Pointer: "/inputs/0/petal_width", Detail: "missing"}},
		CheckRows(v, []predict.Row{irisRow("5", "3", "1")}))
}

func TestScorer_Tensors(t *testing.T) {
	t.Parallel()
	v := loadVersion(t, "iris", "2")
	s := New(Config{MaxBatchRows: 10})
	matrix := oip.InputTensor{Name: "input", Shape: []int64{1, 4}, Datatype: oip.FP64, Data: json.RawMessage(`[5.1,3.5,1.4,0.2]`)}
	binary := oip.InputTensor{Name: "input", Shape: []int64{1, 4}, Datatype: oip.FP32,
		Parameters: map[string]any{oip.ParamBinaryDataSize: 16.0}}
	tests := []struct {
		name         string
		in           TensorInput
		wantOutputs  []string
		wantPointers []string
	}{
		{name: "scores a matrix and gives every output", in: TensorInput{Inputs: []oip.InputTensor{matrix}},
			wantOutputs: []string{"label", "probabilities"}},
		{name: "gives only the outputs asked for", in: TensorInput{Inputs: []oip.InputTensor{matrix}, Outputs: []oip.RequestedOutput{{Name: "label"}}},
			wantOutputs: []string{"label"}},
		{name: "reads binary tensor data", in: TensorInput{Inputs: []oip.InputTensor{binary},
			Binary: []byte{0, 0, 0xa0, 0x40, 0, 0, 0x60, 0x40, 0x33, 0x33, 0xb3, 0x3f, 0xcd, 0xcc, 0x4c, 0x3e}},
			wantOutputs: []string{"label", "probabilities"}},
		{name: "reports input and output problems together", in: TensorInput{
			Inputs:  []oip.InputTensor{{Name: "input", Shape: []int64{2, 4}, Datatype: oip.FP32, Data: json.RawMessage(`[1,2,3,4]`)}},
			Outputs: []oip.RequestedOutput{{Name: "logits"}},
		}, wantPointers: []string{"/inputs/0/shape", "/outputs/0/name"}},
		{name: "refuses binary data sizes past the tail", in: TensorInput{Inputs: []oip.InputTensor{binary}, Binary: []byte{1, 2}},
			wantPointers: []string{"/inputs/0/data"}},
		{name: "refuses no inputs", in: TensorInput{}, wantPointers: []string{"/inputs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := s.Tensors(v, tc.in)
			if tc.wantPointers != nil {
				require.ElementsMatch(t, tc.wantPointers, pointers(t, err))
				return
			}
			require.NoError(t, err)
			defer b.Release()
			var got []string
			for _, o := range b.OIPOutputs() {
				got = append(got, o.Name)
			}
			require.Equal(t, tc.wantOutputs, got)
			require.Equal(t, "setosa", b.Label(0))
		})
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	err := error(&ValidationError{Violations: []problem.Violation{{Pointer: "/inputs", Detail: "missing"}}})
	require.EqualError(t, err, "1 violation(s): /inputs: missing")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
}

func TestParseNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    float64
		wantErr bool
	}{
		{name: "reads a decimal", raw: "1.5", want: 1.5},
		{name: "reads negative zero", raw: "-0", want: 0},
		{name: "reads the largest exponent", raw: "1e308", want: 1e308},
		{name: "refuses an overflow", raw: "1e309", wantErr: true},
		{name: "refuses a string", raw: `"1"`, wantErr: true},
		{name: "refuses null", raw: "null", wantErr: true},
		{name: "refuses a boolean", raw: "true", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg := parseNumber([]byte(tc.raw))
			require.Equal(t, tc.wantErr, msg != "", tc.raw)
			if !tc.wantErr {
				require.Equal(t, tc.want, got)
				require.False(t, math.IsNaN(got))
			}
		})
	}
}
