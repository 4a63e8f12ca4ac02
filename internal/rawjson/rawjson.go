// Package rawjson looks at JSON text without decoding it into Go values: the
// kind of a raw value, and the member-name rule both services apply to
// request bodies before reading them.
package rawjson

import "bytes"

// Kind names a raw JSON value's type for error messages: "object", "array",
// "string", "number", "boolean", "null", or "nothing" for empty input. It
// looks at the first byte only; raw is assumed to be valid JSON.
func Kind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}
