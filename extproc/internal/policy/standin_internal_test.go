package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// reference returns a validator that gives every document to the schema
// validator whole: no native check, no stand-ins, no parts.
func reference(tb testing.TB) *Validator {
	tb.Helper()
	v, err := Load(openapiPath, RequestSchemas...)
	require.NoError(tb, err)
	v.partNodes = 1 << 30
	for name, c := range v.schemas {
		c.native, c.bulk, c.closed = nil, nil, nil
		v.schemas[name] = c
	}
	return v
}

// standInCorpus holds bodies whose bulk arrays and closed objects are
// valid in part, nested, or fail in ways only the validator words.
var standInCorpus = []struct{ schema, body string }{
	{InferRequest, `{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,"a"],[true,[4,{}]],[null,5]]}]}`},
	{InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"","shape":[-1,1.5],"datatype":"FP99","data":[1,{},[[]]]},` +
		`{"name":"y","shape":[1],"datatype":"FP32"},{"name":"z","shape":[1],"datatype":"FP32","data":[2]}],"outputs":[{"name":"o"},{},{"name":""},{"name":"p"}]}`},
	{InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[` + strings.Repeat(`1,`, 300) + `null,` + strings.Repeat(`[1,[2]],`, 50) + `{}]}]}`},
	{InferRequest, `{"inputs":[{"name":"x","shape":[1.0,1e0],"datatype":"FP32","data":[1.0,-0,1e400]}]}`},
	{V2PredictRequest, `{"model":"iris","inputs":[{"a":1},{"a":"x"},{"b":2,"c":null},{},{"a":1}],"options":{"return_probabilities":1,"x":2},"z":1,"y":{}}`},
	{V1PredictRequest, `{"inputs":[{"a":1},` + "{" + members(`"m%d":1`, 300) + `,"s":"x","t":true}` + `,{"` + strings.Repeat("n", 200) + `":1}],"q~/":1}`},
	{V1PredictRequest, `{"inputs":[` + "{" + members(`"m%d":"x"`, 150) + "}" + `]}`},
	{V1PredictRequest, `{"inputs":[` + strings.Repeat(`{"a":1},`, 500) + `{"a":[]}],"model_version":"Bad!"}`},
	{V2PredictRequest, `{"model":"iris","inputs":[{"a":1}],` + members(`"x%d":1`, 200) + `}`},
}

// Stand-ins must find exactly what the schema validator finds in the
// whole document, whenever an answer lists all of it.
func TestValidator_Check_standInsFindWhatTheWholeFinds(t *testing.T) {
	t.Parallel()
	ref, v := reference(t), loadForTest(t)
	for _, c := range append(standInCorpus, partsCorpus...) {
		doc, err := v.Decode([]byte(c.body))
		require.NoError(t, err, c.body)
		want, got := violationsOf(t, ref.Check(c.schema, doc)), violationsOf(t, v.Check(c.schema, doc))
		require.Equal(t, want, got, c.body)
	}
}

// Past what an answer lists, stand-ins keep the items and members whose
// pointers sort first: the answer lists what the whole document's would.
func TestValidator_Check_standInsListWhatTheWholeLists(t *testing.T) {
	t.Parallel()
	ref, v := reference(t), loadForTest(t)
	for _, c := range []struct{ schema, body string }{
		{InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[` + strings.Repeat(`{},1,`, 1500) + `{}]}]}`},
		{V2PredictRequest, `{"model":"iris","inputs":[` + strings.Repeat(`{"a":"x"},{"a":1},`, 1500) + `{"a":"x"}]}`},
		{V1PredictRequest, `{"inputs":[{` + members(`"m%d":"x"`, 1500) + `,` + members(`"n%d":1`, 100) + `}]}`},
	} {
		doc, err := v.Decode([]byte(c.body))
		require.NoError(t, err)
		want, got := violationsOf(t, ref.Check(c.schema, doc)), violationsOf(t, v.Check(c.schema, doc))
		require.Len(t, got, MaxViolations+1)
		require.Equal(t, want[:MaxViolations], got[:MaxViolations], c.body[:80])
		require.True(t, strings.HasPrefix(got[MaxViolations].Detail, noteAtLeast), got[MaxViolations].Detail)
	}
}

func loadForTest(tb testing.TB) *Validator {
	tb.Helper()
	v, err := Load(openapiPath, RequestSchemas...)
	require.NoError(tb, err)
	return v
}

// The native check must never pass a document the schema validator
// fails, and stand-ins must find what the whole document has.
func FuzzCheckStandIn(f *testing.F) {
	ref, v := reference(f), loadForTest(f)
	for _, c := range append(standInCorpus, partsCorpus...) {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		doc, err := v.Decode([]byte(body))
		if err != nil {
			return
		}
		for _, schema := range RequestSchemas {
			want := violationsOf(t, ref.Check(schema, doc))
			got := violationsOf(t, v.Check(schema, doc))
			if (want == nil) != (got == nil) {
				t.Fatalf("%s: whole %v, checked %v", schema, want, got)
			}
			if n, _ := countViolations(want); n <= MaxViolations {
				require.Equal(t, want, got, "%s", schema)
			}
		}
	})
}

func TestIndexLess_sortsAsDecimalStrings(t *testing.T) {
	t.Parallel()
	ns := []int{0, 1, 2, 9, 10, 11, 19, 20, 99, 100, 101, 199, 200, 999, 1000, 1001, 1009, 1010, 12345, 99999, 100000}
	for _, a := range ns {
		for _, b := range ns {
			require.Equal(t, strconv.Itoa(a) < strconv.Itoa(b), indexLess(a, b), "%d %d", a, b)
		}
	}
}

func TestSmallInt(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int64{"0": 0, "-0": 0, "7": 7, "-12": -12, "123456789012345678": 123456789012345678} {
		n, ok := smallInt(s)
		require.True(t, ok, s)
		require.Equal(t, want, n, s)
	}
	for _, s := range []string{"", "-", "1.0", "1e3", "1234567890123456789", "+1"} {
		_, ok := smallInt(s)
		require.False(t, ok, s)
	}
}
