package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendCanonical appends the canonical JSON form of v to dst: object keys
// sorted by their UTF-8 bytes, no insignificant whitespace, numbers in the
// shortest form that parses back to the same float64 (so 1, 1.0 and 1e0 are
// one key), -0 written as 0, and strings escaped the one way
// encoding/json escapes them. v is what encoding/json decodes into any,
// with or without UseNumber.
func AppendCanonical(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case json.Number:
		return appendNumber(dst, string(x)), nil
	case float64:
		return appendFloat(dst, x), nil
	case string:
		return appendString(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendCanonical(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = AppendCanonical(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	default:
		return nil, fmt.Errorf("canonical json: unsupported type %T", v)
	}
}

// CanonicalJSON parses one JSON value and returns its canonical form.
func CanonicalJSON(b []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("canonical json: data after the top-level value")
	}
	return AppendCanonical(nil, v)
}

func appendNumber(dst []byte, lit string) []byte {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil { // out of float64 range: keep the literal, it is still valid JSON
		return append(dst, lit...)
	}
	return appendFloat(dst, f)
}

func appendFloat(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	if math.IsInf(f, 0) || math.IsNaN(f) { // not produced by a JSON decoder
		return append(dst, "null"...)
	}
	// The ECMAScript number form (as encoding/json writes floats): plain
	// decimals between 1e-6 and 1e21, exponent form outside.
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// Drop the exponent's leading zero: 1e-07 → 1e-7.
	if m := len(dst) - n; m >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-2] == '0' {
		dst[len(dst)-2] = dst[len(dst)-1]
		dst = dst[:len(dst)-1]
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	if isPlain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // never fails for a string
	return append(dst, b...)
}

// isPlain reports whether s needs no escaping, which is true of nearly every
// key and feature name; it lets the common case skip json.Marshal.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
