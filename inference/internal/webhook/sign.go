// Package webhook delivers job events by Standard Webhooks v1: each
// message is signed with HMAC-SHA256 under every current secret of its
// owner, sent through an SSRF-guarded client, retried on the spec's
// schedule with jitter, and every attempt is recorded.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts a symmetric Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Secret is a signing key.
type Secret []byte

// ParseSecret reads a "whsec_<base64>" secret.
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("secret does not start with %s", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("secret: %d bytes; want 24 to 64", len(key))
	}
	return key, nil
}

// String renders the secret as whsec_<base64>.
func (s Secret) String() string { return SecretPrefix + base64.StdEncoding.EncodeToString(s) }

// Sign returns the webhook-signature header value: one "v1,<base64>"
// entry per secret, space-separated, so a receiver holding either the old
// or the new secret verifies during a rotation.
func Sign(secrets []Secret, id string, ts time.Time, body []byte) string {
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac(s, id, ts.Unix(), body)))
	}
	return strings.Join(parts, " ")
}

func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verification errors.
var (
	ErrNoSignature = errors.New("no matching signature")
	ErrTimestamp   = errors.New("timestamp outside the tolerance")
)

// Verify checks a delivery as a receiver would: the timestamp within
// tolerance of now and at least one v1 signature made with secret,
// compared in constant time.
func Verify(secret Secret, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := mac(secret, id, ts, body)
	for part := range strings.SplitSeq(signature, " ") {
		sig, ok := strings.CutPrefix(part, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoSignature
}
