package cache

import (
	"crypto/sha256"
	"encoding/binary"
)

// Key identifies one cached response. It is a SHA-256 over every input that
// determines the answer, so equal keys mean equal predictions.
type Key [sha256.Size]byte

// KeyParts are the inputs of a cache key.
type KeyParts struct {
	// Scope isolates tenants: the client id, or "" when responses are
	// shared across clients by configuration.
	Scope string
	// Route names the API route ("v1_predict", ...), because the same
	// inputs answer differently shaped bodies on different routes.
	Route string
	// Model and Version are the resolved model and concrete version.
	Model, Version string
	// Canonical is the canonical JSON of the prediction-determining fields.
	Canonical []byte
}

// NewKey hashes the parts. Every part is length-prefixed so that no two
// different part lists can produce the same byte stream.
func NewKey(p KeyParts) Key {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{p.Scope, p.Route, p.Model, p.Version} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(p.Canonical)))
	h.Write(n[:])
	h.Write(p.Canonical)
	var k Key
	h.Sum(k[:0])
	return k
}
