package policy_test

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate/extproc/internal/policy"
)

// BenchmarkValidator_Validate measures decoding and schema validation of
// typical and hostile bodies. Reproduce the figures in the branch's report
// with
//
//	go test ./extproc/internal/policy -run '^$' -bench Validate -benchmem -count 6
func BenchmarkValidator_Validate(b *testing.B) {
	v := loadValidator(b)
	for _, bm := range []struct {
		name, schema, body string
	}{
		{"bench body", policy.V2PredictRequest, benchBody},
		{"1000 rows", policy.V2PredictRequest, rowsBody(1000)},
		{"hostile data 5000 deep", policy.InferRequest, deepDataBody(5000)},
		{"hostile 5000 row violations", policy.V2PredictRequest, wideViolationsBody(5000)},
		{"hostile 1 MiB of data violations", policy.InferRequest, wideDataBody(1 << 20 / 3)},
	} {
		body := []byte(bm.body)
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = v.Validate(bm.schema, body)
			}
		})
	}
}

// BenchmarkValidator_Validate_megabyte compares what valid and hostile
// bodies of the default body limit cost. cpu-ns/op is the process's CPU
// time per request, garbage collection included: on a shared machine it
// is steadier than ns/op, which counts waiting for a core.
//
//	go test ./extproc/internal/policy -run '^$' -bench Validate_megabyte -benchmem -count 3
func BenchmarkValidator_Validate_megabyte(b *testing.B) {
	v := loadValidator(b)
	for _, bm := range megabyteBodies {
		benchValidate(b, v, bm.name, bm.schema, []byte(bm.body))
	}
}

// BenchmarkValidator_Validate_costly runs the costliest shapes of 1 MiB
// bodies that [FuzzValidate_cost] starts from.
func BenchmarkValidator_Validate_costly(b *testing.B) {
	v := loadValidator(b)
	for _, c := range costlyShapes {
		name := c.schema + " " + strings.ReplaceAll(c.unit, "#", "N")
		benchValidate(b, v, name, c.schema, []byte(repeated(c.prefix, c.unit, c.suffix)))
	}
}

func benchValidate(b *testing.B, v *policy.Validator, name, schema string, body []byte) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			_, _ = v.Validate(schema, body)
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkValidator_Decode_megabyte measures the decoding alone of the
// bodies of [BenchmarkValidator_Validate_megabyte].
func BenchmarkValidator_Decode_megabyte(b *testing.B) {
	v := loadValidator(b)
	for _, bm := range megabyteBodies {
		body := []byte(bm.body)
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				_, _ = v.Decode(body)
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
