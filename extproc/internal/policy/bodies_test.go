package policy_test

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/extproc/internal/policy"
)

// Bodies shared by the tests and benchmarks of the decoder. The hostile
// ones reproduce the findings of issue 13.

// benchBody is the typical small V2 request.
const benchBody = `{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`

// rowsBody is a V2 request with n iris rows.
func rowsBody(n int) string {
	var sb strings.Builder
	sb.WriteString(`{"model":"iris","inputs":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.` + strconv.Itoa(i%10) + `}`)
	}
	sb.WriteString(`]}`)
	return sb.String()
}

// deepDataBody is an Open Inference Protocol request whose tensor data
// nests levels arrays deep, each level holding a number before the next
// level and the innermost holding a null, so that every level fails the
// recursive TensorData schema: about 4 bytes a level.
func deepDataBody(levels int) string {
	return `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":` +
		strings.Repeat("[0,", levels) + "null" + strings.Repeat("]", levels) + `}]}`
}

// wideViolationsBody is a V2 request with n rows whose one feature is a
// string: n schema violations from about 10 bytes each.
func wideViolationsBody(n int) string {
	return `{"model":"iris","inputs":[` + strings.Repeat(`{"a":"x"},`, n-1) + `{"a":"x"}]}`
}

// wideDataBody is an Open Inference Protocol request whose tensor data
// holds n empty objects, each failing both branches of TensorData's items:
// the most violations per byte the request schemas allow.
func wideDataBody(n int) string {
	return `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[` +
		strings.Repeat(`{},`, n-1) + `{}]}]}`
}

// megabyteBodies are bodies of about 1 MiB, the default body limit: valid
// ones, for what the gateway spends on legitimate traffic, and hostile
// ones, which must cost no more than that.
var megabyteBodies = []struct {
	name, schema, body string
	valid              bool
}{
	{"valid tensor of 500000 numbers", policy.InferRequest, `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[` +
		strings.Repeat(`0,`, 1<<19-100) + `0]}]}`, true},
	{"valid 12000 rows", policy.V2PredictRequest, rowsBody(12000), true},
	{"hostile tensor data of objects", policy.InferRequest, wideDataBody(1 << 20 / 3), false},
	{"hostile 100000 rows of violations", policy.V2PredictRequest, wideViolationsBody(100000), false},
	{"hostile row of 80000 wrong members", policy.V1PredictRequest, wideRow(80000), false},
	{"hostile 80000 members not allowed", policy.V2PredictRequest, `{"model":"iris","inputs":[{"a":1}],` + members(`"x%d":1`, 80000) + `}`, false},
}

// wideRow is a V1 body whose one row has n members that are not numbers.
func wideRow(n int) string { return `{"inputs":[{` + members(`"m%d":"x"`, n) + `}]}` }

// members is n members rendered by format from their index.
func members(format string, n int) string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(ms, ",")
}
