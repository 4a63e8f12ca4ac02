package engine

import (
	"fmt"
	"testing"
)

// BenchmarkPredict measures Predict on every catalog model for batches of
// 1, 100 and 1000 rows (parity rows repeated), reporting predictions/s.
func BenchmarkPredict(b *testing.B) {
	for _, md := range loadCatalog(b) {
		p := readParity(b, md.dir)
		f, no := len(md.manifest.Inputs), md.engine.NumOutputs()
		for _, rows := range []int{1, 100, 1000} {
			x := make([]float64, 0, rows*f)
			for i := 0; i < rows; i++ {
				x = append(x, p.Rows[i%len(p.Rows)].X...)
			}
			out := make([]float64, rows*no)
			b.Run(fmt.Sprintf("%s/%s/rows=%d", md.name, md.version, rows), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					md.engine.Predict(x, rows, out)
				}
				b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "predictions/s")
			})
		}
	}
}
