package rawjson

import "testing"

func TestKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{name: "names an object", raw: ` {"a":1}`, want: "object"},
		{name: "names an array", raw: `[1]`, want: "array"},
		{name: "names a string", raw: `"x"`, want: "string"},
		{name: "names a number", raw: `-1.5e3`, want: "number"},
		{name: "names true as a boolean", raw: `true`, want: "boolean"},
		{name: "names false as a boolean", raw: `false`, want: "boolean"},
		{name: "names null", raw: "\tnull\n", want: "null"},
		{name: "names empty input nothing", raw: "  ", want: "nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Kind([]byte(tc.raw)); got != tc.want {
				t.Fatalf("Kind(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}
