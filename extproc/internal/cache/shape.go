package cache

import (
	"crypto/sha256"
	"strings"
)

// Directives reads the no-cache and no-store directives of a request's
// Cache-Control value (max-age=0 counts as no-cache).
func Directives(cacheControl string) (noCache, noStore bool) {
	for d := range strings.SplitSeq(cacheControl, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch d {
		case "no-cache", "max-age=0":
			noCache = true
		case "no-store":
			noStore = true
		}
	}
	return noCache, noStore
}

// Storable reports whether a response's Cache-Control value lets a shared
// cache store it: neither no-store nor private.
func Storable(cacheControl string) bool {
	if _, noStore := Directives(cacheControl); noStore {
		return false
	}
	return !strings.Contains(strings.ToLower(cacheControl), "private")
}

// CanonicalFields renders the canonical JSON object of the given (sorted)
// members of doc, the [KeyParts.Canonical] of a request. Absent, null and
// empty-object members are left out, so "options": {} and no options key
// the same answer.
func CanonicalFields(doc map[string]any, fields []string) ([]byte, error) {
	out := make([]byte, 0, 256)
	out = append(out, '{')
	first := true
	for _, f := range fields {
		v, ok := doc[f]
		if obj, isObj := v.(map[string]any); !ok || v == nil || (isObj && len(obj) == 0) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, f...)
		out = append(out, '"', ':')
		var err error
		if out, err = AppendCanonical(out, v); err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

// AppendBinaryTail adds the binary tensor data of a request to its
// canonical JSON form, so that requests whose JSON headers are equal but
// whose tensor bytes differ never share a cache key. The tail goes in as a
// NUL byte (which canonical JSON never contains: it escapes control
// characters) and the SHA-256 of the bytes; a request without binary data
// keeps its plain canonical form.
func AppendBinaryTail(canonical, tail []byte) []byte {
	if len(tail) == 0 {
		return canonical
	}
	sum := sha256.Sum256(tail)
	canonical = append(canonical, 0)
	return append(canonical, sum[:]...)
}
