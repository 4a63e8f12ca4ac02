package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
)

const openapiPath = "../../../api/openapi.yaml"

// wholeAndParts returns a validator that checks every document whole and
// one that checks documents of more than budget nodes in parts.
func wholeAndParts(tb testing.TB, budget int) (whole, inParts *Validator) {
	tb.Helper()
	whole, err := Load(openapiPath, RequestSchemas...)
	require.NoError(tb, err)
	whole.partNodes = 1 << 30
	inParts, err = Load(openapiPath, RequestSchemas...)
	require.NoError(tb, err)
	inParts.partNodes = budget
	return whole, inParts
}

// checkBoth checks body whole and in parts and returns both answers.
func checkBoth(tb testing.TB, whole, inParts *Validator, schema, body string) (w, p []problem.Violation, ok bool) {
	tb.Helper()
	doc, err := whole.Decode([]byte(body))
	if err != nil {
		return nil, nil, false
	}
	return violationsOf(tb, whole.Check(schema, doc)), violationsOf(tb, inParts.Check(schema, doc)), true
}

func violationsOf(tb testing.TB, err error) []problem.Violation {
	tb.Helper()
	if err == nil {
		return nil
	}
	ve, ok := err.(*ViolationsError)
	require.True(tb, ok, "%T: %v", err, err)
	return ve.Violations
}

// partsCorpus holds bodies whose violations lie in different parts.
var partsCorpus = []struct{ schema, body string }{
	{V2PredictRequest, `{"model":"iris","inputs":[{"a":1},{"a":2},{"a":3},{"a":4},{"a":5},{"a":6},{"a":7}]}`},
	{V2PredictRequest, `{"model":"iris","inputs":[{"a":1},{"a":2},{"a":3},{"a":4},{"a":5},{"a":6},{"a":"x"}]}`},
	{V2PredictRequest, `{"model":"Iris!","inputs":[{"a":1},{"b":true},{"a":3},{},{"a":5},[],{"a":"x","b":null}],"extra":[1,2,3,4,5,6,7,8]}`},
	{V1PredictRequest, `{"inputs":[{"a":1},{"a":2},{"a":3},{"a":4},{"a":5},{"a":6},{"a":7},{"a":8},{"a":9},{"a":10},{"a":{}}],"options":{"x":[1,2,3,4,5,6,7,8,9]}}`},
	{InferRequest, `{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}`},
	{InferRequest, `{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4],[5,[6,[7,[8,{}]]]],[9,10,11,12,13,14,15,null]]}]}`},
	{InferRequest, `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1,2,3,4,5,6]},{"name":"b","shape":[1,2,3,4,5,-6],"datatype":"FP99","data":[1,2,3,4,5,{}]},` +
		`{"name":"","shape":[],"datatype":"FP32"},{"name":"c","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":-1}}],"outputs":[{"name":"o"},{"name":"p"},{},{"name":1}]}`},
	{InferRequest, `{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[[[[1,2,3,4,5,6,7,8]]],[[[1,2,3,4,5,6,7,"x"]]],[[[true,[],2]]]]}]}`},
	{InferRequest, `[1,2,3,4,5,6,7,8,9,{"inputs":[]}]`},
	{V1PredictRequest, `{"inputs":[` + wideMembers(`"m%d":1`, 70) + `,` + wideMembers(`"s%d":"x"`, 70) + `]}`},
	{V1PredictRequest, `{"inputs":[{"a":1},` + "{" + members(`"m%d":1`, 65) + `,"z":[1,2,3,{"a":"x"}],"y":{"a":[1,"x"]}}]}`},
	{V2PredictRequest, `{"model":"iris","inputs":[{"a":1}],` + members(`"x%d":[1,{"a":2}]`, 70) + `}`},
	{V2PredictRequest, `{"inputs":[{"a":"x"}],` + members(`"x%d":1`, 100) + `}`},
	{InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1,2,3,4],"parameters":` + wideMembers(`"p%d":[1,2]`, 70) + `,` +
		members(`"e%d":{"a":[1,2,3]}`, 70) + `}],"parameters":` + wideMembers(`"q%d":{}`, 80) + `}`},
	{InferRequest, `{"inputs":[1,2,3,4,5,6,7,8,9,{"inputs":[]}]}`},
}

// wideMembers is an object of n members rendered by format from their index.
func wideMembers(format string, n int) string { return "{" + members(format, n) + "}" }

// members is n members rendered by format from their index.
func members(format string, n int) string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(ms, ",")
}

func TestValidator_Check_partsFindWhatTheWholeFinds(t *testing.T) {
	t.Parallel()
	for _, budget := range []int{1, 2, 3, 5, 8, 13, 40, 100} {
		whole, inParts := wholeAndParts(t, budget)
		for _, c := range partsCorpus {
			w, p, ok := checkBoth(t, whole, inParts, c.schema, c.body)
			require.True(t, ok, c.body)
			require.Equal(t, w, p, "budget %d: %s", budget, c.body)
		}
	}
}

func TestPartwise(t *testing.T) {
	t.Parallel()
	v, err := Load(openapiPath, RequestSchemas...)
	require.NoError(t, err)
	for _, name := range RequestSchemas {
		if name == ChatJobRequest {
			// A chat body is bounded (256 messages, the chat route's
			// limits) and is checked whole; its oneOfs and maxItems
			// come from the chat schemas.
			require.False(t, v.schemas[name].parts, name)
			continue
		}
		require.True(t, v.schemas[name].parts, "%s must stay checkable in parts: see partwise", name)
	}
	for _, schema := range []string{
		`{"type":"array","maxItems":3}`,
		`{"type":"array","minItems":2}`,
		`{"type":"array","uniqueItems":true}`,
		`{"type":"array","contains":{"type":"string"}}`,
		`{"prefixItems":[{"type":"string"}]}`,
		`{"not":{"type":"array"}}`,
		`{"oneOf":[{"type":"array"},{"type":"object"}]}`,
		`{"if":{"type":"array"},"then":{"minItems":1}}`,
		`{"properties":{"a":{"unevaluatedItems":false}}}`,
		`{"anyOf":[{"items":{"type":"string"}},{"properties":{"a":{"items":{"type":"number"}}}}]}`,
		`{"anyOf":[{"additionalProperties":false},{"items":{"type":"number"}}]}`,
		`{"type":"object","maxProperties":3}`,
		`{"type":"object","minProperties":2}`,
	} {
		doc := "openapi: 3.1.0\ncomponents:\n  schemas:\n    S: " + schema + "\n"
		v, err := Compile([]byte(doc), "S")
		require.NoError(t, err, schema)
		require.False(t, v.schemas["S"].parts, schema)
	}
	v, err = Compile([]byte("openapi: 3.1.0\ncomponents:\n  schemas:\n    S: {anyOf: [{type: number}, {items: {type: number}}], minItems: 1}\n"), "S")
	require.NoError(t, err)
	require.True(t, v.schemas["S"].parts)
}

func TestUnshift(t *testing.T) {
	t.Parallel()
	shifts := []shift{{path: []string{"inputs"}, off: 40}, {path: []string{"inputs", "0", "data"}, off: 7}}
	require.Equal(t, []string{"inputs", "40", "data", "9", "1"}, unshift([]string{"inputs", "0", "data", "2", "1"}, shifts))
	require.Equal(t, []string{"inputs", "40", "name"}, unshift([]string{"inputs", "0", "name"}, shifts))
	require.Equal(t, []string{"model"}, unshift([]string{"model"}, shifts))
	require.Equal(t, []string{"inputs"}, unshift([]string{"inputs"}, shifts))
}

func TestCutter_keepsObjectsWholeAndOneItemPerArray(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"a": []any{1.0, 2.0, 3.0}, "b": []any{[]any{1.0, 2.0}, 4.0}, "c": "x"}
	c := cutter{left: 3, known: map[string]bool{}}
	got, changed := c.cut(doc)
	require.True(t, changed)
	require.Equal(t, map[string]any{"a": []any{1.0}, "b": []any{[]any{1.0}}, "c": "x"}, got)
	paths := make([]string, 0, len(c.later))
	for _, d := range c.later {
		paths = append(paths, strings.Join(d.path, "/")+"@"+string(rune('0'+d.next)))
	}
	require.Equal(t, []string{"a@1", "b/0@1", "b@1"}, paths)
	require.Equal(t, []any{1.0, 2.0, 3.0}, doc["a"], "the document is not changed")
}

// FuzzCheckParts checks arbitrary documents whole and in parts of a few
// nodes: both must find the same violations whenever the whole finds no
// more than an answer lists.
func FuzzCheckParts(f *testing.F) {
	whole, inParts := wholeAndParts(f, 3)
	for _, c := range partsCorpus {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, schema := range RequestSchemas {
			w, p, ok := checkBoth(t, whole, inParts, schema, body)
			if !ok {
				return
			}
			if len(w) > MaxViolations {
				continue // both cut, possibly at different places
			}
			require.Equal(t, w, p, "%s", schema)
		}
	})
}
