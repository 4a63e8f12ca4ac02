package policy

import (
	"crypto/sha256"
	"fmt"

	"github.com/dgraph-io/ristretto/v2"
)

// Memo remembers bodies that passed a schema, so a repeated body (a cache
// hit is one) is not validated again. It keys on a SHA-256 of the schema
// name and the exact body bytes: a body that differs in any byte is
// validated like a new one, and no body can be made to collide with
// another. The schemas never change while the process runs (they are
// compiled once at start). Only passes are remembered; a body with
// violations is always validated, so its answer lists them.
type Memo struct {
	rc       *ristretto.Cache[string, struct{}]
	maxBytes int
}

// NewMemo remembers about entries bodies of at most maxBytes each (larger
// bodies are rare repeats and are always validated).
func NewMemo(entries int64, maxBytes int) (*Memo, error) {
	rc, err := ristretto.NewCache(&ristretto.Config[string, struct{}]{
		NumCounters: entries * 10,
		MaxCost:     entries,
		BufferItems: 64,
	})
	if err != nil {
		return nil, fmt.Errorf("validation memo: %w", err)
	}
	return &Memo{rc: rc, maxBytes: maxBytes}, nil
}

// Close releases the memo's goroutines.
func (m *Memo) Close() {
	if m != nil {
		m.rc.Close()
	}
}

func memoKey(schema string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write(body)
	return string(h.Sum(nil))
}

// Passed reports whether body is known to pass schema; when it is not, it
// returns the key to give [Memo.Remember] once it does. A nil memo knows
// nothing.
func (m *Memo) Passed(schema string, body []byte) (known bool, key string) {
	if m == nil || len(body) > m.maxBytes {
		return false, ""
	}
	key = memoKey(schema, body)
	_, known = m.rc.Get(key)
	return known, key
}

// Remember records that the body behind key passed.
func (m *Memo) Remember(key string) {
	if m == nil || key == "" {
		return
	}
	m.rc.Set(key, struct{}{}, 1)
}
