package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Entry is one stored response. The body is kept split around the value of
// its request-id member so that a hit can show the current request id
// without re-encoding the body.
//
// A binary Open Inference Protocol answer (the binary tensor data
// extension: a JSON head of inference-header-content-length bytes, then raw
// tensor bytes) is split the same way inside its head; the tensor bytes end
// Suffix and are never touched.
type Entry struct {
	// Prefix and Suffix surround the request-id value; when the body has no
	// such member, Prefix is the whole body and HasID is false.
	Prefix, Suffix []byte
	HasID          bool
	// Binary marks a binary Open Inference Protocol answer; tailLen is the
	// number of tensor bytes after its JSON head.
	Binary  bool
	tailLen int
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

// NewBinaryEntry stores a binary Open Inference Protocol answer whose JSON
// head is the first headLength bytes of body, splitting the head around
// the string value of its top-level idField member. It fails when
// headLength does not fit body or the head is not a JSON object.
func NewBinaryEntry(body []byte, headLength int, idField, contentType, modelVersion string, storedAt time.Time) (*Entry, error) {
	if headLength < 0 || headLength > len(body) {
		return nil, fmt.Errorf("cache: a %d-byte JSON head does not fit a %d-byte body", headLength, len(body))
	}
	head := body[:headLength]
	if !json.Valid(head) || bytes.TrimSpace(head)[0] != '{' {
		return nil, errors.New("cache: the JSON head of a binary answer is not a JSON object")
	}
	e := NewEntry(head, idField, contentType, modelVersion, storedAt)
	e.Binary, e.tailLen = true, len(body)-headLength
	tail := body[headLength:]
	if e.HasID {
		e.Suffix = append(e.Suffix[:len(e.Suffix):len(e.Suffix)], tail...)
	} else {
		e.Prefix = append(e.Prefix[:len(e.Prefix):len(e.Prefix)], tail...)
	}
	return e, nil
}

// HeadLength is the inference-header-content-length of a body that Body
// rendered from a binary entry: its length less the unchanged tensor bytes.
// It is 0 for a JSON entry.
func (e *Entry) HeadLength(body []byte) int {
	if !e.Binary {
		return 0
	}
	return len(body) - e.tailLen
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
