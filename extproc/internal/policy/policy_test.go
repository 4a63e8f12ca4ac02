package policy_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
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
		{name: "accepts a binary OIP header: binary_data_size instead of data", schema: policy.InferRequest,
			body: `{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}],"parameters":{"binary_data_output":true}}`},
		{name: "an OIP tensor needs data or binary_data_size", schema: policy.InferRequest,
			body: `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"other":1}}]}`,
			wantViolations: []problem.Violation{
				{Pointer: "/inputs/0", Detail: "missing property 'data'"},
				{Pointer: "/inputs/0/parameters", Detail: "missing property 'binary_data_size'"},
			}},
		{name: "binary_data_size is a byte count", schema: policy.InferRequest,
			body:           `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":-4}}]}`,
			wantViolations: []problem.Violation{{Pointer: "/inputs/0/parameters/binary_data_size", Detail: "minimum: got -4, want 0"}}},
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

func TestCheckInferMediaType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct     string
		binary bool
		ok     bool
	}{
		{"", false, true}, // tritonclient.http sends none: JSON
		{"", true, true},
		{"application/json", false, true},
		{"application/json; charset=utf-8", true, true},
		{"application/octet-stream", true, true},
		{"application/octet-stream", false, false}, // octet-stream only with the header length
		{"text/plain", true, false},
		{"text/csv", false, false},
		{"not a media type", false, false},
	}
	for _, tt := range tests {
		err := policy.CheckInferMediaType(tt.ct, tt.binary)
		if tt.ok {
			require.NoError(t, err, "%q binary=%v", tt.ct, tt.binary)
			continue
		}
		var p *problem.Problem
		require.ErrorAs(t, err, &p, "%q binary=%v", tt.ct, tt.binary)
		require.Equal(t, problem.TypeUnsupportedMediaType, p.Type)
		require.Equal(t, 415, p.Status)
		require.Contains(t, p.Detail, header.InferenceHeaderContentLength)
	}
}

func TestSplitBinaryInfer(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":1}` + "\x01\x02\x03")
	head, tail, err := policy.SplitBinaryInfer(body, "7")
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, string(head))
	require.Equal(t, []byte{1, 2, 3}, tail)
	head, tail, err = policy.SplitBinaryInfer(body, "10")
	require.NoError(t, err)
	require.Equal(t, body, head)
	require.Empty(t, tail)
	for _, n := range []string{"", "11", "-1", "x", "1.5", "99999999999999999999"} {
		_, _, err := policy.SplitBinaryInfer(body, n)
		var ve *policy.ViolationsError
		require.ErrorAs(t, err, &ve, n)
		require.Equal(t, []problem.Violation{{Pointer: "",
			Detail: "inference-header-content-length \"" + n + "\" does not fit a 10-byte body"}}, ve.Violations, n)
	}
}

func TestCheckBinaryData(t *testing.T) {
	t.Parallel()
	v := loadValidator(t)
	tests := []struct {
		name string
		head string
		tail int
		want []problem.Violation
	}{
		{name: "sizes add up to the tail", tail: 48,
			head: `{"inputs":[{"name":"a","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}},` +
				`{"name":"b","shape":[2],"datatype":"FP64","parameters":{"binary_data_size":16.0}},{"name":"c","shape":[1],"datatype":"FP32","data":[1]}]}`},
		{name: "JSON only", tail: 0, head: `{"inputs":[{"name":"c","shape":[1],"datatype":"FP32","data":[1]}]}`},
		{name: "sizes short of the tail", tail: 40,
			head: `{"inputs":[{"name":"a","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`,
			want: []problem.Violation{{Pointer: "/inputs", Detail: "binary_data_size values add up to 32 bytes, but 40 binary bytes follow the JSON header"}}},
		{name: "a size past the tail", tail: 8,
			head: `{"inputs":[{"name":"a","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`,
			want: []problem.Violation{{Pointer: "/inputs/0/parameters/binary_data_size", Detail: "32 bytes exceed the 8 binary bytes after the JSON header"}}},
		{name: "binary sizes in a JSON-only request", tail: 0,
			head: `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`,
			want: []problem.Violation{{Pointer: "/inputs/0/parameters/binary_data_size", Detail: "4 bytes exceed the 0 binary bytes after the JSON header"}}},
		{name: "a tail nobody claims", tail: 4,
			head: `{"inputs":[{"name":"c","shape":[1],"datatype":"FP32","data":[1]}]}`,
			want: []problem.Violation{{Pointer: "/inputs", Detail: "4 binary bytes follow the JSON header, but no input declares binary_data_size"}}},
	}
	for _, tt := range tests {
		doc, err := v.Validate(policy.InferRequest, []byte(tt.head))
		require.NoError(t, err, tt.name)
		err = policy.CheckBinaryData(doc.(map[string]any), tt.tail)
		if tt.want == nil {
			require.NoError(t, err, tt.name)
			continue
		}
		var ve *policy.ViolationsError
		require.ErrorAs(t, err, &ve, tt.name)
		require.Equal(t, tt.want, ve.Violations, tt.name)
	}
	// Values the schema would refuse are refused here too, without panics.
	for _, bad := range []any{json.Number("-1"), json.Number("1.5"), json.Number("1e999"), "4", -2.0, nil} {
		doc := map[string]any{"inputs": []any{map[string]any{"parameters": map[string]any{"binary_data_size": bad}}}}
		var ve *policy.ViolationsError
		require.ErrorAs(t, policy.CheckBinaryData(doc, 4), &ve, "%v", bad)
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
	for _, h := range hostileBodies {
		f.Add(h.body)
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
			if ve != nil {
				if len(ve.Violations) == 0 {
					t.Fatal("violations error without violations")
				}
				requireCapped(t, ve)
			}
		}
	})
}

// FuzzSplitBinaryInfer splits arbitrary bodies at arbitrary header lengths
// and checks what a binary infer request then goes through: the split is
// exact or a located violation, and validating the JSON header and checking
// the binary sizes against the tail never fail untyped or panic.
func FuzzSplitBinaryInfer(f *testing.F) {
	v := loadValidator(f)
	head := `{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`
	f.Add(head+"\x00\x00\x80\x3f\x00\x00\x00\x40", strconv.Itoa(len(head)))
	f.Add(head+"\x00\x00", strconv.Itoa(len(head)))
	f.Add(`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`, "0")
	f.Add(`{"inputs":[]}`, "-1")
	f.Add("", "")
	f.Add("\xff\xfe", "+1")
	f.Fuzz(func(t *testing.T, body, n string) {
		h, tail, err := policy.SplitBinaryInfer([]byte(body), n)
		if err != nil {
			var ve *policy.ViolationsError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 {
				t.Fatalf("want one located violation, got %T: %v", err, err)
			}
			return
		}
		if string(h)+string(tail) != body {
			t.Fatal("head and tail do not make up the body")
		}
		if want, _ := strconv.Atoi(n); len(h) != want {
			t.Fatalf("head of %d bytes, header says %s", len(h), n)
		}
		doc, err := v.Validate(policy.InferRequest, h)
		if err != nil {
			return
		}
		if err := policy.CheckBinaryData(doc.(map[string]any), len(tail)); err != nil {
			var ve *policy.ViolationsError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("untyped or empty error %T: %v", err, err)
			}
		}
	})
}
