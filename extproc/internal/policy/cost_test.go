package policy_test

import (
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/extproc/internal/policy"
)

// bodyLimit is the default body limit (limits.max_body_bytes).
const bodyLimit = 1 << 20

// repeated is prefix, then unit repeated to fill bodyLimit, then suffix;
// a # in unit becomes the repetition's index, so that objects can have
// many distinct members.
func repeated(prefix, unit, suffix string) string {
	var sb strings.Builder
	sb.Grow(bodyLimit)
	sb.WriteString(prefix)
	for i := 0; ; i++ {
		u := strings.ReplaceAll(unit, "#", strconv.Itoa(i))
		if sb.Len()+len(u)+len(suffix) > bodyLimit {
			break
		}
		sb.WriteString(u)
	}
	sb.WriteString(suffix)
	return sb.String()
}

// tensorHead opens the data of an Open Inference Protocol tensor.
const tensorHead = `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[`

// costlyShapes are the costliest shapes of bodies found, each with the
// schema it costs most against, as prefix, unit and suffix (see
// [repeated]).
var costlyShapes = []struct{ schema, prefix, unit, suffix string }{
	{policy.InferRequest, tensorHead, `0,`, `0]}]}`},
	{policy.InferRequest, tensorHead, `{},`, `{}]}]}`},
	{policy.InferRequest, tensorHead, `[{}],`, `0]}]}`},
	{policy.InferRequest, tensorHead, `[null],`, `0]}]}`},
	{policy.InferRequest, tensorHead, `[],`, `0]}]}`},
	{policy.InferRequest, tensorHead, `"",`, `0]}]}`},
	{policy.InferRequest, tensorHead, `1e400,`, `0]}]}`},
	{policy.InferRequest, tensorHead, `{"a":[1,2]},`, `0]}]}`},
	{policy.InferRequest, `{"inputs":[`, `{},`, `{}]}`},
	{policy.InferRequest, `{"inputs":[`, `{"name":"x","shape":[1],"datatype":"FP32","data":[1]},`, `{}]}`},
	{policy.InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[`, `{"name":"o"},`, `{}]}`},
	{policy.InferRequest, `{"inputs":[{"name":"x","shape":[`, `1,`, `1],"datatype":"FP32","data":[1]}]}`},
	{policy.V2PredictRequest, `{"model":"iris","inputs":[`, `{"a":"x"},`, `{"a":1}]}`},
	{policy.V2PredictRequest, `{"model":"iris","inputs":[`, `{"a":1},`, `{"a":1}]}`},
	{policy.V2PredictRequest, `{"model":"iris","inputs":[`, `{"a":null,"b":null,"c":null},`, `{"a":1}]}`},
	{policy.V1PredictRequest, `{"inputs":[{`, `"m#":"x",`, `"z":1}]}`},
	{policy.V1PredictRequest, `{"inputs":[{`, `"m#":1,`, `"z":"x"}]}`},
	{policy.V2PredictRequest, `{"model":"iris","inputs":[{"a":1}],`, `"x#":1,`, `"z":1}`},
	{policy.V2PredictRequest, `{"model":"iris","inputs":[{"a":1}],"options":{`, `"x#":{},`, `"z":1}}`},
	{policy.InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{`, `"p#":[{}],`, `"z":1}}],"x":1}`},
	{policy.V1PredictRequest, `[`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],`, `1]`},
	{policy.V1PredictRequest, `{"a":"`, `x`, `"}`},
	{policy.V1PredictRequest, tensorHead, `0,`, `0]}]}`},
	{policy.V1PredictRequest, tensorHead, `[null],`, `0]}]}`},
	{policy.V2PredictRequest, `{"model":"iris","inputs":[{"name":"x","shape":[`, `1,`, `1],"datatype":"FP32","data":[1]}]}`},
}

// FuzzValidate_cost measures what bodies of the full 1 MiB body limit
// cost, built from a unit repeated between a prefix and a suffix: no
// request of any shape may allocate more than maxRequestHeap, valid or
// not, and every refusal stays within the caps of an answer. The seeds
// are the costliest shapes found, each with the schema it costs most
// against (they run in every go test).
func FuzzValidate_cost(f *testing.F) {
	v := loadValidator(f)
	for _, s := range costlyShapes {
		f.Add(uint8(slices.Index(policy.RequestSchemas, s.schema)), s.prefix, s.unit, s.suffix)
	}
	f.Fuzz(func(t *testing.T, which uint8, prefix, unit, suffix string) {
		if unit == "" || len(prefix)+len(suffix) > bodyLimit/2 {
			t.Skip()
		}
		body := []byte(repeated(prefix, unit, suffix))
		schema := policy.RequestSchemas[int(which)%len(policy.RequestSchemas)]
		{
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := v.Validate(schema, body)
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > maxRequestHeap {
				t.Fatalf("%s: %d bytes allocated for a body of %d bytes", schema, n, len(body))
			}
			var ve *policy.ViolationsError
			if errors.As(err, &ve) {
				requireCapped(t, ve)
			}
		}
	})
}
