// Package authz decides who is calling: it turns the API key a client sent
// into a [Principal] (client, tier, key id, allowed models) by checking it
// against a file of hashed keys, and keeps that file's contents current
// while the process runs.
//
// The package knows nothing about Envoy or HTTP. The ext_authz handler in
// extproc/internal/server reads the headers, calls [ParseCredential] and
// [Store.Authenticate], and maps the sentinel errors to 401 responses; the
// ext_proc side calls [Store.Lookup] to check model scope.
//
// # Keys and hashes
//
// A key looks like mg_live_3f7ak2pq<52 more characters>: "mg", an
// environment (live or test), then eight characters naming the key (its id)
// and a secret of 32 bytes from crypto/rand, all in lower-case base32. The
// id and everything before it form the key's visible prefix, which may be
// shown and logged; the secret never is.
//
// The keys file stores a SHA-256 digest of each key (or an HMAC-SHA-256
// with a pepper kept outside the file). A slow password hash such as
// argon2 or bcrypt exists to make guessing low-entropy passwords
// expensive; a 256-bit random secret cannot be guessed however fast the
// hash is, so a slow hash would only add milliseconds to every request.
// This is the choice GitHub, Stripe and most API gateways make for
// machine-generated tokens. The pepper adds protection when the file
// leaks but the process environment does not.
//
// Lookup goes by the id embedded in the key, then the digests are compared
// with [crypto/subtle.ConstantTimeCompare], so response timing tells an
// attacker nothing about how much of a guessed secret was right.
package authz
