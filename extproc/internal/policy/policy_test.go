package policy_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
)

const openapiPath = "../../../api/openapi.yaml"

func loadValidator(tb testing.TB) *policy.Validator {
	tb.Helper()
	v, err := policy.Load(openapiPath, policy.RequestSchemas...)
	require.NoError(tb, err)
	return v
}

func TestValidator_Validate(t *testing.T) {
	t.Parallel()
	v := loadValidator(t)
	tests := []struct {
		name           string
		schema         string
		body           string
		wantMalformed  bool
		wantViolations []problem.Violation
	}{
		{name: "accepts a v1 body", schema: policy.V1PredictRequest,
			body: `{"inputs":[{"sepal_length":5.1,"petal_width":0.2}],"model_version":"latest","options":{}}`},
		{name: "accepts a v2 body", schema: policy.V2PredictRequest,
			body: `{"model":"iris","version":"2","inputs":[{"a":1},{"a":2e3}],"options":{"return_probabilities":true}}`},
		{name: "accepts an OIP body", schema: policy.InferRequest,
			body: `{"id":"r1","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[[1,2]]}]}`},
		{name: "rejects trailing garbage as malformed", schema: policy.V2PredictRequest,
			body: `{"model":"iris","inputs":[{"a":1}]} x`, wantMalformed: true},
		{name: "rejects an empty body as malformed", schema: policy.V2PredictRequest, body: ``, wantMalformed: true},
		{name: "rejects a truncated body as malformed", schema: policy.V1PredictRequest, body: `{"inputs":[`, wantMalformed: true},
		{name: "lists every violation by pointer", schema: policy.V2PredictRequest,
			body: `{"model":"Iris!","inputs":[{"a":1},{"a":2},{"a":3},{"petal_width":"wide","b":true}],"options":{"x":1},"extra":1}`,
			wantViolations: []problem.Violation{
				{Pointer: "", Detail: "additional properties 'extra' not allowed"},
				{Pointer: "/inputs/3/b", Detail: "got boolean, want number"},
				{Pointer: "/inputs/3/petal_width", Detail: "got string, want number"},
				{Pointer: "/model", Detail: "'Iris!' does not match pattern '^[a-z0-9][a-z0-9._-]*$'"},
				{Pointer: "/options", Detail: "additional properties 'x' not allowed"},
			}},
		{name: "requires inputs and model", schema: policy.V2PredictRequest, body: `{}`,
			wantViolations: []problem.Violation{{Pointer: "", Detail: "missing properties 'model', 'inputs'"}}},
		{name: "rejects empty rows", schema: policy.V1PredictRequest, body: `{"inputs":[{}]}`,
			wantViolations: []problem.Violation{{Pointer: "/inputs/0", Detail: "minProperties: got 0, want 1"}}},
		{name: "rejects negative tensor dims", schema: policy.InferRequest,
			body:           `{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}`,
			wantViolations: []problem.Violation{{Pointer: "/inputs/0/shape/0", Detail: "minimum: got -1, want 0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := v.Validate(tt.schema, []byte(tt.body))
			switch {
			case tt.wantMalformed:
				var me *policy.MalformedError
				require.ErrorAs(t, err, &me)
			case tt.wantViolations != nil:
				var ve *policy.ViolationsError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tt.wantViolations, ve.Violations)
			default:
				require.NoError(t, err)
				require.NotNil(t, doc)
			}
		})
	}
}

func TestCompile_reportsEveryMissingSchema(t *testing.T) {
	t.Parallel()
	_, err := policy.Compile([]byte("openapi: 3.1.0\ncomponents: {schemas: {}}\n"), "A", "B")
	require.ErrorContains(t, err, "components.schemas.A")
	require.ErrorContains(t, err, "components.schemas.B")
}

func TestCheckMediaType(t *testing.T) {
	t.Parallel()
	for ct, ok := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"application/vnd.api+json":          true,
		"text/plain":                        false,
		"":                                  false,
		"application/x-www-form-urlencoded": false,
	} {
		err := policy.CheckMediaType(ct)
		if ok {
			require.NoError(t, err, ct)
		} else {
			var me *policy.MediaTypeError
			require.ErrorAs(t, err, &me, ct)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	require.NoError(t, policy.CheckSize(10, 10))
	var tl *policy.TooLargeError
	require.ErrorAs(t, policy.CheckSize(11, 10), &tl)
	require.NoError(t, policy.CheckRows(3, 3))
	var tr *policy.TooManyRowsError
	require.ErrorAs(t, policy.CheckRows(4, 3), &tr)
}

func FuzzValidate(f *testing.F) {
	v := loadValidator(f)
	for _, s := range []string{
		`{"model":"iris","inputs":[{"a":1}]}`,
		`{"inputs":[{"a":"x"}],"model_version":"latest"}`,
		`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`,
		`[]`, `null`, `{"a":`, "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, schema := range policy.RequestSchemas {
			_, err := v.Validate(schema, []byte(body))
			if err == nil {
				continue
			}
			var me *policy.MalformedError
			var ve *policy.ViolationsError
			if !errors.As(err, &me) && !errors.As(err, &ve) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if ve != nil && len(ve.Violations) == 0 {
				t.Fatal("violations error without violations")
			}
		}
	})
}
