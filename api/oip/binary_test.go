package oip

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestSplitBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		body         string
		headerLength string
		wantHead     string
		wantTail     string
		wantErr      bool
	}{
		{name: "splits at the header length", body: `{"a":1}XYZ`, headerLength: "7", wantHead: `{"a":1}`, wantTail: "XYZ"},
		{name: "a head of the whole body leaves no tail", body: `{}`, headerLength: "2", wantHead: `{}`},
		{name: "a zero length leaves an empty head", body: "XY", headerLength: "0", wantTail: "XY"},
		{name: "refuses a length past the body", body: "{}", headerLength: "3", wantErr: true},
		{name: "refuses a negative length", body: "{}", headerLength: "-1", wantErr: true},
		{name: "refuses a length that is not a number", body: "{}", headerLength: "two", wantErr: true},
		{name: "refuses an empty length", body: "{}", headerLength: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			head, tail, err := SplitBinary([]byte(tc.body), tc.headerLength)
			if tc.wantErr {
				var hle *HeaderLengthError
				if !errors.As(err, &hle) || hle.Value != tc.headerLength || hle.BodyLen != len(tc.body) {
					t.Fatalf("err = %v, want a *HeaderLengthError for %q", err, tc.headerLength)
				}
				return
			}
			if err != nil || string(head) != tc.wantHead || string(tail) != tc.wantTail {
				t.Fatalf("got %q, %q, %v; want %q, %q", head, tail, err, tc.wantHead, tc.wantTail)
			}
			if cap(head) != len(head) {
				t.Fatalf("head capacity %d reaches into the tail", cap(head))
			}
		})
	}
}

func TestBinaryDataSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  map[string]any
		want    int64
		wantOK  bool
		wantErr bool
	}{
		{name: "absent without parameters", params: nil},
		{name: "absent among other parameters", params: map[string]any{"x": 1.0}},
		{name: "reads a float64", params: map[string]any{ParamBinaryDataSize: 16.0}, want: 16, wantOK: true},
		{name: "reads a json.Number", params: map[string]any{ParamBinaryDataSize: json.Number("1e3")}, want: 1000, wantOK: true},
		{name: "zero is a size", params: map[string]any{ParamBinaryDataSize: 0.0}, want: 0, wantOK: true},
		{name: "refuses a negative size", params: map[string]any{ParamBinaryDataSize: -4.0}, wantOK: true, wantErr: true},
		{name: "refuses a fraction", params: map[string]any{ParamBinaryDataSize: 1.5}, wantOK: true, wantErr: true},
		{name: "refuses a string", params: map[string]any{ParamBinaryDataSize: "16"}, wantOK: true, wantErr: true},
		{name: "refuses a size no float64 holds exactly", params: map[string]any{ParamBinaryDataSize: 1e300}, wantOK: true, wantErr: true},
		{name: "refuses infinity", params: map[string]any{ParamBinaryDataSize: math.Inf(1)}, wantOK: true, wantErr: true},
		{name: "refuses a malformed json.Number", params: map[string]any{ParamBinaryDataSize: json.Number("x")}, wantOK: true, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := BinaryDataSize(tc.params)
			if ok != tc.wantOK || (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrBinaryDataSize)) {
				t.Fatalf("got ok=%v err=%v; want ok=%v wantErr=%v", ok, err, tc.wantOK, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("size = %d, want %d", got, tc.want)
			}
		})
	}
}

// FuzzSplitBinary checks that any header length either splits the body
// exactly where it says or is refused, never panics or loses bytes.
func FuzzSplitBinary(f *testing.F) {
	for _, s := range []struct {
		body, length string
	}{{`{"a":1}XYZ`, "7"}, {"{}", "3"}, {"{}", "-1"}, {"{}", "+2"}, {"", "0"}, {"x", "9223372036854775808"}} {
		f.Add([]byte(s.body), s.length)
	}
	f.Fuzz(func(t *testing.T, body []byte, length string) {
		head, tail, err := SplitBinary(body, length)
		if err != nil {
			var hle *HeaderLengthError
			if !errors.As(err, &hle) {
				t.Fatalf("err %v is not a *HeaderLengthError", err)
			}
			return
		}
		if string(head)+string(tail) != string(body) || cap(head) != len(head) {
			t.Fatalf("split %q at %q into %q + %q", body, length, head, tail)
		}
	})
}
