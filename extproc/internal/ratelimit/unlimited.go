package ratelimit

import (
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/extproc/internal/quota"
)

// unlimitedCache remembers, for a short time, descriptor sets the service
// answered with no limit at all (every descriptor unlimited or matching no
// rule). Such an answer counted nothing in Redis, so asking again within
// the TTL would only repeat it: internal and other unlimited tiers skip
// the call. A set that matched any limit, shadow-mode ones included, is
// never remembered, so every limited request is still counted by the
// service. A config change that limits such a set applies within the TTL
// (on top of the service's own reload delay).
type unlimitedCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]time.Time // key → expiry
}

// maxUnlimited bounds the remembered sets; past it the cache starts over.
const maxUnlimited = 4096

func newUnlimitedCache(ttl time.Duration, now func() time.Time) *unlimitedCache {
	if ttl <= 0 {
		return nil
	}
	return &unlimitedCache{ttl: ttl, now: now, m: map[string]time.Time{}}
}

// key renders a descriptor set; the separators cannot occur in header
// values Envoy forwards, nor in the constant keys.
func key(ds []quota.Descriptor) string {
	var b strings.Builder
	for _, d := range ds {
		for _, e := range d.Entries {
			b.WriteString(e.Key)
			b.WriteByte(0)
			b.WriteString(e.Value)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// known reports whether ds was answered unlimited within the TTL.
func (u *unlimitedCache) known(k string) bool {
	if u == nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	exp, ok := u.m[k]
	if ok && u.now().Before(exp) {
		return true
	}
	if ok {
		delete(u.m, k)
	}
	return false
}

// remember records an unlimited answer for k.
func (u *unlimitedCache) remember(k string) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.m) >= maxUnlimited {
		clear(u.m)
	}
	u.m[k] = u.now().Add(u.ttl)
}
