package policy

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{name: "keeps what fits", in: "/inputs/0", limit: 9, want: "/inputs/0"},
		{name: "cuts and marks", in: "/abcdefgh", limit: 8, want: "/abcd" + Ellipsis},
		{name: "cuts on a rune boundary", in: "/ééééé", limit: 8, want: "/éé" + Ellipsis},
		{name: "does not leave half an escape", in: "/abc~1def", limit: 8, want: "/abc" + Ellipsis},
	}
	for _, tt := range tests {
		got := truncate(tt.in, tt.limit)
		require.Equal(t, tt.want, got, tt.name)
		require.LessOrEqual(t, len(got), tt.limit, tt.name)
		require.True(t, utf8.ValidString(got), tt.name)
	}
}

func TestJSONLen_boundsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `"quoted" \back`, "<&>", "\n\r\t\b\f\x00\x1f", "é€😀", "\xff\xfe", "\u2028\u2029"} {
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.GreaterOrEqual(t, jsonLen(s), len(b)-2, "%q", s)
	}
}

func TestLimitViolations(t *testing.T) {
	t.Parallel()
	many := func(n int) []problem.Violation {
		vs := make([]problem.Violation, n)
		for i := range vs {
			vs[i] = problem.Violation{Pointer: "/inputs/" + strings.Repeat("x", i%7) + string(rune('a'+i%26)), Detail: strings.Repeat("d", i)}
		}
		return vs
	}
	tests := []struct {
		name     string
		in       []problem.Violation
		omitted  int
		atLeast  bool
		wantLen  int
		wantNote string
	}{
		{name: "keeps a short list as is", in: many(3), wantLen: 3},
		{name: "drops duplicates without counting them", in: append(many(2), many(2)...), wantLen: 2},
		{name: "counts violations that only differ past the cut", wantLen: 2, wantNote: "1 more violation not listed",
			in: []problem.Violation{{Pointer: "/" + strings.Repeat("a", 300) + "1"}, {Pointer: "/" + strings.Repeat("a", 300) + "2"}}},
		{name: "cuts to the cap and counts the rest", in: many(150), wantLen: MaxViolations + 1, wantNote: "more violations not listed"},
		{name: "adds what was omitted before", in: many(1), omitted: 7, wantLen: 2, wantNote: "7 more violations not listed"},
		{name: "says at least when checking stopped", in: many(1), omitted: 7, atLeast: true, wantLen: 2, wantNote: "at least 7 more violations not listed"},
		{name: "adds the note of a list cut before", in: append(many(1), note(5, false)), omitted: 2, wantLen: 2, wantNote: "7 more violations not listed"},
		{name: "reads a note of one", in: append(many(1), note(1, true)), wantLen: 2, wantNote: "at least 1 more violation not listed"},
	}
	for _, tt := range tests {
		got := limitViolations(tt.in, tt.omitted, tt.atLeast)
		require.Len(t, got, tt.wantLen, tt.name)
		if tt.wantNote != "" {
			require.Equal(t, "", got[len(got)-1].Pointer, tt.name)
			require.True(t, strings.HasSuffix(got[len(got)-1].Detail, tt.wantNote), "%s: %q", tt.name, got[len(got)-1].Detail)
		}
		n, _ := countViolations(got)
		require.GreaterOrEqual(t, n, tt.wantLen-1, tt.name)
	}
	long := make([]problem.Violation, 80)
	for i := range long {
		long[i] = problem.Violation{Pointer: "/" + strings.Repeat("<", 300), Detail: strconv.Itoa(i) + strings.Repeat("&", 300)}
	}
	got := limitViolations(long, 0, false)
	require.Less(t, len(got), 20, "the byte cap cuts first")
	require.Equal(t, strconv.Itoa(80-len(got)+1)+noteSuffix, got[len(got)-1].Detail)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), MaxViolationBytes+100)
	require.Equal(t, "", got[len(got)-1].Pointer)
}

func TestMergeViolations_carriesNotes(t *testing.T) {
	t.Parallel()
	schema := append(make([]problem.Violation, 0, MaxViolations+1), problem.Violation{Pointer: "/inputs/0/a", Detail: "got string, want number"})
	schema = append(schema, note(40, true))
	features := []problem.Violation{{Pointer: "/inputs/0/a", Detail: detailWrongType + "string"}, {Pointer: "/inputs/0/b", Detail: DetailMissing}}
	got := MergeViolations(schema, features)
	require.Equal(t, []problem.Violation{
		{Pointer: "/inputs/0/a", Detail: "got string, want number"},
		{Pointer: "/inputs/0/b", Detail: DetailMissing},
		{Pointer: "", Detail: "at least 40 more violations not listed"},
	}, got)
	ve := &ViolationsError{Violations: got}
	require.EqualError(t, ve, "body violates the schema in at least 42 place(s)")
	n, atLeast := ve.Count()
	require.Equal(t, 42, n)
	require.True(t, atLeast)
}
