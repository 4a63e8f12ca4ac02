package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
)

func TestCheckMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     string
		lim      Limits
		want     []problem.Violation
		wantErr  bool
		wantNone bool
	}{
		{name: "accepts distinct names", data: `{"inputs":[{"a":1,"b":2}],"model":"iris"}`, wantNone: true},
		{name: "accepts equal names in different objects", data: `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, wantNone: true},
		{name: "accepts scalars and empty containers", data: ` [1, -0.5e+3, "x", true, false, null, {}, []] `, wantNone: true},
		{name: "refuses an exact duplicate", data: `{"inputs":[],"inputs":[]}`,
			want: []problem.Violation{{Pointer: "/inputs", Detail: DetailDuplicate}}},
		{name: "refuses a case variant and names the earlier member", data: `{"inputs":[],"INPUTS":[]}`,
			want: []problem.Violation{{Pointer: "/INPUTS", Detail: `member name differs only in case from "inputs"`}}},
		{name: "compares names after unescaping", data: `{"id":"a","\u0069d":"b"}`,
			want: []problem.Violation{{Pointer: "/id", Detail: DetailDuplicate}}},
		{name: "folds the Kelvin sign like encoding/json", data: `{"k":1,"\u212a":2}`,
			want: []problem.Violation{{Pointer: "/\u212a", Detail: `member name differs only in case from "k"`}}},
		{name: "finds repeats in nested objects with escaped pointers", data: `{"inputs":[{"a/b":1},{"x":1,"X~":2,"x~":3}]}`,
			want: []problem.Violation{{Pointer: "/inputs/1/x~0", Detail: `member name differs only in case from "X~"`}}},
		{name: "reports every repeat, not the first occurrence", data: `{"a":1,"A":2,"a":3}`,
			want: []problem.Violation{
				{Pointer: "/A", Detail: `member name differs only in case from "a"`},
				{Pointer: "/a", Detail: DetailDuplicate},
			}},
		{name: "finds repeats in large objects too", data: `{"m0":0,"m1":1,"m2":2,"m3":3,"m4":4,"m5":5,"m6":6,"m7":7,"m8":8,"m9":9,"M3":3}`,
			want: []problem.Violation{{Pointer: "/M3", Detail: `member name differs only in case from "m3"`}}},
		{name: "does not quote a long earlier name", data: `{"` + strings.Repeat("a", 100) + `":1,"` + strings.Repeat("A", 100) + `":2}`,
			want: []problem.Violation{{Pointer: "/" + strings.Repeat("A", 100), Detail: detailCase}}},
		{name: "refuses nesting past the limit once", data: `{"a":[[[1]],[[2]]]}`, lim: Limits{MaxDepth: 3, MaxViolations: 10},
			want: []problem.Violation{{Pointer: "/a/0/0", Detail: "nested deeper than 3 levels"}}},
		{name: "reports repeats before the depth violation, and none after", data: `{"a":1,"a":2,"b":[[[{"c":1,"c":2}]]],"a":3}`,
			lim:  Limits{MaxDepth: 3, MaxViolations: 10},
			want: []problem.Violation{{Pointer: "/a", Detail: DetailDuplicate}, {Pointer: "/b/0/0", Detail: "nested deeper than 3 levels"}}},
		{name: "caps the violations", data: `{"a":1,"a":2,"a":3,"a":4}`, lim: Limits{MaxDepth: 10, MaxViolations: 2},
			want: []problem.Violation{{Pointer: "/a", Detail: DetailDuplicate}, {Pointer: "/a", Detail: DetailDuplicate}}},
		{name: "rejects trailing data", data: `{} x`, wantErr: true},
		{name: "rejects a missing colon", data: `{"a" 1}`, wantErr: true},
		{name: "rejects a trailing comma", data: `[1,]`, wantErr: true},
		{name: "rejects a bare word", data: `nul`, wantErr: true},
		{name: "rejects a leading zero", data: `01`, wantErr: true},
		{name: "rejects a control character in a string", data: "\"a\x01\"", wantErr: true},
		{name: "rejects a bad escape", data: `"\x"`, wantErr: true},
		{name: "rejects an unterminated object", data: `{"a":1`, wantErr: true},
		{name: "rejects a non-string key", data: `{1:2}`, wantErr: true},
		{name: "rejects empty input", data: ``, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim := tc.lim
			if lim == (Limits{}) {
				lim = DefaultLimits
			}
			got, err := CheckMembers([]byte(tc.data), lim)
			if tc.wantErr {
				var se *SyntaxError
				require.ErrorAs(t, err, &se)
				require.False(t, json.Valid([]byte(tc.data)), "encoding/json agrees it is not JSON")
				return
			}
			require.NoError(t, err)
			if tc.wantNone {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestCheckMembers_Bounded checks that a hostile body cannot make the
// report larger than itself: a long path repeated by many violations.
func TestCheckMembers_Bounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 100_000)
	data := `{"` + long + `":{` + strings.TrimSuffix(strings.Repeat(`"a":1,`, 5000), ",") + `}}`
	got, err := CheckMembers([]byte(data), DefaultLimits)
	require.NoError(t, err)
	size := 0
	for _, v := range got {
		size += len(v.Pointer) + len(v.Detail)
	}
	require.NotEmpty(t, got)
	require.LessOrEqual(t, size, len(data)+1024)
}

// TestCheckMembers_DeepNesting checks that nesting costs no recursion: a
// megabyte of open brackets is scanned, reported once and found truncated.
func TestCheckMembers_DeepNesting(t *testing.T) {
	t.Parallel()
	n := 1 << 20
	data := strings.Repeat("[", n) + strings.Repeat("]", n)
	got, err := CheckMembers([]byte(data), DefaultLimits)
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, err = CheckMembers([]byte(data[:len(data)-1]), DefaultLimits)
	require.Error(t, err)
}

// referenceMembers is the rule written the slow, obvious way over
// encoding/json's tokens, for the fuzzer to compare against.
func referenceMembers(data []byte, lim Limits) []problem.Violation {
	dec := json.NewDecoder(bytes.NewReader(data))
	type level struct {
		object bool
		names  []string
		key    string
		index  int
		expect bool // objects: a key is due next
	}
	var stack []*level
	var out []problem.Violation
	deep := false
	pointer := func() string {
		var tokens []string
		for _, l := range stack {
			if l.object {
				tokens = append(tokens, l.key)
			} else {
				tokens = append(tokens, strconv.Itoa(l.index))
			}
		}
		return problem.Pointer(tokens...)
	}
	add := func(p, d string) {
		if len(out) < lim.MaxViolations && !deep {
			out = append(out, problem.Violation{Pointer: p, Detail: d})
		}
	}
	// valueDone moves the parent on after a complete value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.object {
			top.expect = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			return nil
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			name := tok.(string)
			top.key, top.expect = name, false
			if len(stack) > lim.MaxDepth {
				continue // only the syntax is checked down there
			}
			for _, n := range top.names {
				if strings.EqualFold(n, name) {
					if n == name {
						add(pointer(), DetailDuplicate)
					} else if len(n) <= maxQuoted {
						add(pointer(), fmt.Sprintf("member name differs only in case from %s", strconv.Quote(n)))
					} else {
						add(pointer(), detailCase)
					}
					break
				}
			}
			top.names = append(top.names, name)
			continue
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				p := pointer()
				stack = append(stack, &level{object: d == '{', expect: d == '{'})
				if len(stack) > lim.MaxDepth && !deep {
					add(p, fmt.Sprintf("nested deeper than %d levels", lim.MaxDepth))
					deep = true
				}
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		default:
			valueDone()
		}
	}
}

// FuzzCheckMembers compares CheckMembers with encoding/json: it reports a
// syntax error exactly when json.Valid refuses the input, and the same
// violations as the rule written over encoding/json's tokens.
func FuzzCheckMembers(f *testing.F) {
	for _, s := range []string{
		`{"inputs":[],"INPUTS":[]}`, `{"id":"a","\u0069d":"b"}`, `{"k":1,"\u212a":2}`, `{"ſ":1,"S":2}`,
		`{"a":{"b":[{"c":1,"C":2}]}}`, `{"m0":0,"m1":1,"m2":2,"m3":3,"m4":4,"m5":5,"m6":6,"m7":7,"m8":8,"M8":9}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "{\"\xff\":1,\"\xfe\":2}",
		`{"a":1} x`, `{"a" 1}`, `[1,]`, `-`, `1.`, `1e`, `"\u12"`, `{"model":"iris","inputs":[{"sepal_length":5.1}]}`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxDepth: 8, MaxViolations: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := CheckMembers(data, lim)
		if valid := json.Valid(data); valid != (err == nil) {
			t.Fatalf("json.Valid = %v but CheckMembers err = %v for %q", valid, err, data)
		}
		if err != nil {
			return
		}
		want := referenceMembers(data, lim)
		size := 0
		for _, v := range want {
			size += len(v.Pointer) + len(v.Detail)
		}
		if size > len(data)+1024 {
			return // the byte budget cuts the report short
		}
		require.Equal(t, want, got, "for %q", data)
	})
}
