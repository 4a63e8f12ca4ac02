package cache

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Entry is one stored response. The body is kept split around the value of
// its request-id member so that a hit can show the current request id
// without re-encoding the body.
type Entry struct {
	// Prefix and Suffix surround the request-id value; when the body has no
	// such member, Prefix is the whole body and HasID is false.
	Prefix, Suffix []byte
	HasID          bool
	// storedID is the stored request-id value, JSON-encoded.
	storedID    []byte
	ContentType string
	// ModelVersion is the version that served the stored response.
	ModelVersion string
	StoredAt     time.Time
}

// NewEntry splits body around the string value of its top-level member
// named idField (request_id, or id for the Open Inference Protocol).
func NewEntry(body []byte, idField, contentType, modelVersion string, storedAt time.Time) *Entry {
	e := &Entry{ContentType: contentType, ModelVersion: modelVersion, StoredAt: storedAt}
	if start, end, ok := findMember(body, idField); ok {
		e.Prefix, e.Suffix, e.HasID, e.storedID = body[:start], body[end:], true, body[start:end]
	} else {
		e.Prefix = body
	}
	return e
}

// Body renders the stored body with requestID in place of the stored
// request id; an empty requestID keeps the stored one.
func (e *Entry) Body(requestID string) []byte {
	if !e.HasID {
		return e.Prefix
	}
	out := make([]byte, 0, len(e.Prefix)+len(e.Suffix)+len(requestID)+len(e.storedID)+2)
	out = append(out, e.Prefix...)
	if requestID == "" {
		out = append(out, e.storedID...)
	} else {
		out = appendString(out, requestID)
	}
	return append(out, e.Suffix...)
}

// Size is the entry's cost in bytes for the cache bound.
func (e *Entry) Size() int64 {
	return int64(len(e.Prefix) + len(e.Suffix) + len(e.ContentType) + len(e.ModelVersion) + 64)
}

// Age is the entry's age in whole seconds, as the Age header wants it.
func (e *Entry) Age(now time.Time) string {
	a := max(now.Sub(e.StoredAt), 0)
	return strconv.FormatInt(int64(a/time.Second), 10)
}

// findMember returns the byte range of the string value of the top-level
// object member name, or ok=false if body is not an object or has no such
// string member.
func findMember(body []byte, name string) (start, end int, ok bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return 0, 0, false
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return 0, 0, false
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return 0, 0, false
		}
		if key == name && len(raw) > 0 && raw[0] == '"' {
			end = int(d.InputOffset())
			return end - len(raw), end, true
		}
	}
	return 0, 0, false
}
