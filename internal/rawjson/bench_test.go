package rawjson

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCheckMembers measures the member-name rule on predict bodies of
// 1, 100 and 1000 rows, the work it adds to every JSON request.
func BenchmarkCheckMembers(b *testing.B) {
	const row = `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`
	for _, rows := range []int{1, 100, 1000} {
		body := []byte(`{"model":"iris","version":"2","inputs":[` + strings.TrimSuffix(strings.Repeat(row+",", rows), ",") + `]}`)
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if vs, err := CheckMembers(body, DefaultLimits); err != nil || len(vs) > 0 {
					b.Fatal(vs, err)
				}
			}
		})
	}
}
