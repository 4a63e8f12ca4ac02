package policy_test

import (
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
// bodies of the default body limit cost.
func BenchmarkValidator_Validate_megabyte(b *testing.B) {
	v := loadValidator(b)
	for _, bm := range megabyteBodies {
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

// BenchmarkValidator_Decode_megabyte measures the decoding alone of the
// bodies of [BenchmarkValidator_Validate_megabyte].
func BenchmarkValidator_Decode_megabyte(b *testing.B) {
	v := loadValidator(b)
	for _, bm := range megabyteBodies {
		body := []byte(bm.body)
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = v.Decode(body)
			}
		})
	}
}
