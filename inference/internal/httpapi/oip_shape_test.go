package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShape_UnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []int64
		wantErr bool
	}{
		{name: "reads integers", in: `[2,4]`, want: []int64{2, 4}},
		{name: "reads integral numbers as JSON Schema does", in: `[2.0,4e0]`, want: []int64{2, 4}},
		{name: "refuses a fraction", in: `[2.5,4]`, wantErr: true},
		{name: "refuses a string", in: `["2",4]`, wantErr: true},
		{name: "refuses a number past exact integers", in: `[1e300]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s tensorShape
			err := json.Unmarshal([]byte(tt.in), &s)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, []int64(s))
		})
	}
}
