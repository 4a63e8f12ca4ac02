package authz

import "errors"

// Principal is the authenticated caller behind an API key.
type Principal struct {
	// KeyID names the key (never the key itself); safe to log and to send
	// upstream.
	KeyID string
	// Client names the customer the key belongs to.
	Client string
	// Tier is the client's plan (free, pro, internal, ...), used for quotas.
	Tier string
	// Models lists the models the key may use; "*" allows all. The slice is
	// shared with the store and must not be modified.
	Models []string
}

// Allows reports whether the principal may use model.
func (p Principal) Allows(model string) bool {
	for _, m := range p.Models {
		if m == AllModels || m == model {
			return true
		}
	}
	return false
}

// AllModels in a key's model list allows every model.
const AllModels = "*"

// Reasons a credential is refused. Each is distinct so that the 401 answer
// can tell the client what to fix.
var (
	// ErrMissing means the request carried no API key at all.
	ErrMissing = errors.New("authz: no api key")
	// ErrMalformed means a credential was sent but is not a modelgate key
	// (wrong scheme, wrong shape, or two different keys).
	ErrMalformed = errors.New("authz: malformed api key")
	// ErrUnknown means the key has the right shape but matches no key in
	// the keys file.
	ErrUnknown = errors.New("authz: unknown api key")
	// ErrRevoked means the key exists but was disabled.
	ErrRevoked = errors.New("authz: revoked api key")
	// ErrExpired means the key exists but its expiry has passed.
	ErrExpired = errors.New("authz: expired api key")
)
