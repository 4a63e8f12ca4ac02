package authz

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Shape of a key: "mg_" + env + "_" + id + secret.
const (
	keyScheme = "mg_"
	// maxEnvLen bounds the environment label (live, test, ...).
	maxEnvLen = 16
	// idLen is the number of base32 characters naming a key (40 bits; ids
	// are checked for uniqueness when a key is issued).
	idLen = 8
	// secretBytes is the entropy of a key's secret.
	secretBytes = 32
	// secretLen is secretBytes in unpadded base32.
	secretLen = (secretBytes*8 + 4) / 5
	// maxKeyLen bounds any well-formed key.
	maxKeyLen = len(keyScheme) + maxEnvLen + 1 + idLen + secretLen
	// alphabet is RFC 4648 base32 in lower case: no padding, no
	// look-alike 0/O or 1/l pairs, and keys stay one word when
	// double-clicked.
	alphabet = "abcdefghijklmnopqrstuvwxyz234567"
)

// Hash schemes in the keys file.
const (
	hashSHA256     = "sha256:"
	hashHMACSHA256 = "hmac-sha256:"
)

// Environments a key may be issued for.
const (
	// EnvLive marks production keys.
	EnvLive = "live"
	// EnvTest marks keys for test and staging traffic.
	EnvTest = "test"
)

// IssuedKey is a freshly generated key together with what the keys file
// stores about it. Key is the only place the secret ever exists; show it
// once and drop it.
type IssuedKey struct {
	// Key is the full secret key, mg_<env>_<id><secret>.
	Key string
	// ID names the key.
	ID string
	// Prefix is the visible part of the key: mg_<env>_<id>.
	Prefix string
	// Hash is the keys-file form of the key's digest ("sha256:<hex>" or,
	// with a pepper, "hmac-sha256:<hex>").
	Hash string
}

// Issue generates a key for env (EnvLive or EnvTest) from random, which is
// crypto/rand.Reader outside tests, and hashes it with pepper (nil for
// plain SHA-256).
func Issue(env string, random io.Reader, pepper []byte) (IssuedKey, error) {
	if env != EnvLive && env != EnvTest {
		return IssuedKey{}, fmt.Errorf("issue key: environment %q is not %q or %q", env, EnvLive, EnvTest)
	}
	// 5 bytes give exactly idLen base32 characters.
	var raw [5 + secretBytes]byte
	if _, err := io.ReadFull(random, raw[:]); err != nil {
		return IssuedKey{}, fmt.Errorf("issue key: read random bytes: %w", err)
	}
	enc := base32.NewEncoding(alphabet).WithPadding(base32.NoPadding)
	id := enc.EncodeToString(raw[:5])
	secret := enc.EncodeToString(raw[5:])
	prefix := keyScheme + env + "_" + id
	key := prefix + secret
	return IssuedKey{Key: key, ID: id, Prefix: prefix, Hash: HashKey(key, pepper)}, nil
}

// HashKey returns the keys-file form of key's digest: "sha256:<hex>", or
// "hmac-sha256:<hex>" keyed with pepper when pepper is not empty.
func HashKey(key string, pepper []byte) string {
	d := digest(key, pepper)
	if len(pepper) > 0 {
		return hashHMACSHA256 + hex.EncodeToString(d[:])
	}
	return hashSHA256 + hex.EncodeToString(d[:])
}

// digest hashes key; the plain SHA-256 path does not allocate.
func digest(key string, pepper []byte) [sha256.Size]byte {
	if len(pepper) == 0 {
		var buf [maxKeyLen]byte
		return sha256.Sum256(append(buf[:0], key...))
	}
	return peppered(key, pepper)
}

// peppered is HMAC-SHA-256 of key under pepper.
func peppered(key string, pepper []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, pepper)
	_, _ = io.WriteString(m, key)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// errHashFormat is returned by parseHash; the message never repeats the
// value, which may be a real digest.
var errHashFormat = errors.New(`want "sha256:" or "hmac-sha256:" followed by 64 lower-case hex digits`)

// parseHash decodes a keys-file hash into its digest and whether it is
// peppered.
func parseHash(s string) (d [sha256.Size]byte, peppered bool, err error) {
	var h string
	switch {
	case strings.HasPrefix(s, hashSHA256):
		h = s[len(hashSHA256):]
	case strings.HasPrefix(s, hashHMACSHA256):
		h, peppered = s[len(hashHMACSHA256):], true
	default:
		return d, false, errHashFormat
	}
	if len(h) != hex.EncodedLen(sha256.Size) || strings.ToLower(h) != h {
		return d, false, errHashFormat
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return d, false, errHashFormat
	}
	return d, peppered, nil
}

// splitKey checks the shape of a key and returns its environment and id.
// It does not allocate.
func splitKey(key string) (env, id string, ok bool) {
	if len(key) > maxKeyLen || !strings.HasPrefix(key, keyScheme) {
		return "", "", false
	}
	rest := key[len(keyScheme):]
	i := strings.IndexByte(rest, '_')
	if i < 1 || i > maxEnvLen || !isEnv(rest[:i]) {
		return "", "", false
	}
	body := rest[i+1:]
	if len(body) != idLen+secretLen {
		return "", "", false
	}
	for j := 0; j < len(body); j++ {
		if !isBase32(body[j]) {
			return "", "", false
		}
	}
	return rest[:i], body[:idLen], true
}

// validPrefix reports whether prefix is mg_<env>_<id>.
func validPrefix(prefix, id string) bool {
	rest, ok := strings.CutPrefix(prefix, keyScheme)
	if !ok {
		return false
	}
	env, got, ok := strings.Cut(rest, "_")
	return ok && len(env) <= maxEnvLen && isEnv(env) && got == id
}

// validID reports whether id has the shape of a key id.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for j := 0; j < len(id); j++ {
		if !isBase32(id[j]) {
			return false
		}
	}
	return true
}

func isEnv(s string) bool {
	if s == "" {
		return false
	}
	for j := 0; j < len(s); j++ {
		c := s[j]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isBase32(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')
}

// KeyIDOf returns the id embedded in a well-shaped key, or "" for anything
// else. The id is not secret; it is what logs may name.
func KeyIDOf(key string) string {
	_, id, _ := splitKey(key)
	return id
}
