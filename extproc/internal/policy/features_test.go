package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
)

var irisFeatures = policy.NewFeatures([]string{"sepal_length", "sepal_width", "petal_length", "petal_width"})

func rowsOf(t *testing.T, v *policy.Validator, body string) []any {
	t.Helper()
	doc, _ := v.Validate(policy.V2PredictRequest, []byte(body))
	m, ok := doc.(map[string]any)
	require.True(t, ok, "the body parses to an object")
	rows, _ := m["inputs"].([]any)
	return rows
}

func TestFeatures_Check(t *testing.T) {
	v := loadValidator(t)
	tests := []struct {
		name string
		body string
		want []problem.Violation
	}{
		{"a complete row", `{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`, nil},
		{"missing features in manifest order", `{"model":"iris","inputs":[{"sepal_length":5.1}]}`, []problem.Violation{
			{Pointer: "/inputs/0/sepal_width", Detail: "missing"},
			{Pointer: "/inputs/0/petal_length", Detail: "missing"},
			{Pointer: "/inputs/0/petal_width", Detail: "missing"},
		}},
		{"unknown features, sorted, escaped", `{"model":"iris","inputs":[{},{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"z":1,"a/b~":2}]}`, []problem.Violation{
			{Pointer: "/inputs/0/sepal_length", Detail: "missing"},
			{Pointer: "/inputs/0/sepal_width", Detail: "missing"},
			{Pointer: "/inputs/0/petal_length", Detail: "missing"},
			{Pointer: "/inputs/0/petal_width", Detail: "missing"},
			{Pointer: "/inputs/1/a~1b~0", Detail: "unknown feature"},
			{Pointer: "/inputs/1/z", Detail: "unknown feature"},
		}},
		{"a wrong type and a row that is not an object", `{"model":"iris","inputs":[7,{"sepal_length":"x","sepal_width":3.5,"petal_length":null,"petal_width":0.2}]}`, []problem.Violation{
			{Pointer: "/inputs/1/sepal_length", Detail: "wrong type: expected number, got string"},
			{Pointer: "/inputs/1/petal_length", Detail: "wrong type: expected number, got null"},
		}},
		{"as many present as expected, one of them unknown", `{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_widht":0.2}]}`, []problem.Violation{
			{Pointer: "/inputs/0/petal_width", Detail: "missing"},
			{Pointer: "/inputs/0/petal_widht", Detail: "unknown feature"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, irisFeatures.Check(rowsOf(t, v, tt.body)))
		})
	}
}

func TestFeatures_CheckBounded(t *testing.T) {
	rows := make([]any, policy.MaxFeatureViolations)
	for i := range rows {
		rows[i] = map[string]any{"x": 1.0}
	}
	require.Len(t, irisFeatures.Check(rows), policy.MaxFeatureViolations)
}

func TestFeatures_CheckValidAllocatesNothing(t *testing.T) {
	rows := []any{map[string]any{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = irisFeatures.Check(rows) }))
}

func TestMergeViolations(t *testing.T) {
	schema := []problem.Violation{
		{Pointer: "/inputs/0/sepal_length", Detail: "got string, want number"},
		{Pointer: "/inputs/0/zz", Detail: "got string, want number"},
	}
	features := []problem.Violation{
		{Pointer: "/inputs/0/sepal_length", Detail: "wrong type: expected number, got string"},
		{Pointer: "/inputs/0/sepal_width", Detail: "missing"},
		{Pointer: "/inputs/0/zz", Detail: "unknown feature"},
	}
	require.Equal(t, []problem.Violation{
		{Pointer: "/inputs/0/sepal_length", Detail: "got string, want number"},
		{Pointer: "/inputs/0/sepal_width", Detail: "missing"},
		{Pointer: "/inputs/0/zz", Detail: "got string, want number"},
		{Pointer: "/inputs/0/zz", Detail: "unknown feature"},
	}, policy.MergeViolations(schema, features))
	require.Equal(t, schema, policy.MergeViolations(schema, nil))
}
