// Package quota decides which request quotas a request counts against and
// what the answer of the quota service means for it. The counting itself
// is the envoyproxy/ratelimit service's (Redis-backed, shared by every
// replica, tuned in ratelimit-config/); this package knows nothing about
// its wire protocol. See [Checker].
package quota

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/api/header"
)

// Domain is the ratelimit domain of every modelgate descriptor.
const Domain = "modelgate"

// Descriptor keys and the values of the "quota" entry, as the rules in
// ratelimit-config/config/modelgate.yaml name them.
const (
	KeyQuota   = "quota"
	KeyTier    = "tier"
	KeyClient  = "client"
	KeyModel   = "model"
	KeyVersion = "version"

	ClientMinute = "client_minute"
	ClientSecond = "client_second"
	ClientModel  = "client_model"
	// TokensMinute and TokensDay count the tokens of text-generation
	// requests: the prompt when the request is admitted, the completion
	// (by Envoy's ratelimit filter, at stream end) once it is known.
	TokensMinute = "tokens_minute"
	TokensDay    = "tokens_day"
	// ModelTokensMinute and ModelTokensDay count them per client and
	// model (all its versions).
	ModelTokensMinute = "model_tokens_minute"
	ModelTokensDay    = "model_tokens_day"
)

// TokenQuotas are the token descriptors' quota values, client-wide first.
var TokenQuotas = [...]string{TokensMinute, TokensDay, ModelTokensMinute, ModelTokensDay}

// Entry is one key/value of a descriptor.
type Entry struct{ Key, Value string }

// Descriptor is an ordered list of entries, which the ratelimit service
// matches against its rule tree, and what it costs.
type Descriptor struct {
	Entries []Entry
	// Hits is what the request adds to the descriptor's counter; 0 means
	// one (a request quota).
	Hits uint64
}

// Tokens reports whether the descriptor counts tokens, not requests.
func (d Descriptor) Tokens() bool {
	if len(d.Entries) == 0 || d.Entries[0].Key != KeyQuota {
		return false
	}
	v := d.Entries[0].Value
	for _, q := range TokenQuotas {
		if v == q {
			return true
		}
	}
	return false
}

// Subject is what a request is counted as: the authenticated client and
// tier and, once resolved and allowed, the model version it is for.
type Subject struct {
	Client, Tier   string
	Model, Version string
	// Tokens, when positive, is what a text-generation request reserves
	// of the client's token quotas on admission (its prompt).
	Tokens uint64
}

// Descriptors are the descriptors of one request, sent in one call: the
// per-client minute and second quotas, when the subject names a model
// version the per-client-per-model quota, and when it reserves tokens the
// per-client and per-client-per-model token quotas.
func Descriptors(s Subject) []Descriptor {
	ds := []Descriptor{
		{Entries: []Entry{{KeyQuota, ClientMinute}, {KeyTier, s.Tier}, {KeyClient, s.Client}}},
		{Entries: []Entry{{KeyQuota, ClientSecond}, {KeyTier, s.Tier}, {KeyClient, s.Client}}},
	}
	if s.Model != "" && s.Version != "" {
		ds = append(ds, Descriptor{Entries: []Entry{{KeyQuota, ClientModel}, {KeyTier, s.Tier}, {KeyClient, s.Client},
			{KeyModel, s.Model}, {KeyVersion, s.Version}}})
	}
	if s.Tokens > 0 {
		for _, q := range TokenQuotas[:2] {
			ds = append(ds, Descriptor{Entries: []Entry{{KeyQuota, q}, {KeyTier, s.Tier}, {KeyClient, s.Client}}, Hits: s.Tokens})
		}
		if s.Model != "" {
			for _, q := range TokenQuotas[2:] {
				ds = append(ds, Descriptor{Entries: []Entry{{KeyQuota, q}, {KeyTier, s.Tier}, {KeyClient, s.Client}, {KeyModel, s.Model}}, Hits: s.Tokens})
			}
		}
	}
	return ds
}

// Limit is the state of one limited descriptor after the call.
type Limit struct {
	// Requests per Window.
	Requests uint32
	Window   time.Duration
	// Remaining requests in the current window.
	Remaining uint32
	// Reset is the time until the window ends.
	Reset time.Duration
	// Tokens is true for a token quota: Requests and Remaining count
	// tokens.
	Tokens bool
}

// Decision is the service's answer for all of a request's descriptors.
type Decision struct {
	// Over is true when any enforced descriptor is over its limit.
	Over bool
	// Tightest is the limited descriptor with the fewest requests left
	// (the one x-ratelimit-* headers describe); nil when nothing matched
	// a limit (unlimited tiers).
	Tightest *Limit
	// Exceeded is the first descriptor over its limit when Over (a token
	// quota is never the Tightest, which describes request quotas); nil
	// when the service did not say which.
	Exceeded *Limit
}

// Checker asks the quota service about one request's descriptors, counting
// one hit on each. An error means the service could not answer; callers
// fail open.
type Checker interface {
	Check(ctx context.Context, ds []Descriptor) (Decision, error)
}

// Tightest picks, among limits, the one with the fewest remaining requests
// (the shorter window on a tie), as Envoy's ratelimit filter does for its
// x-ratelimit-* headers. It returns nil for no limits.
func Tightest(limits []Limit) *Limit {
	var best *Limit
	for i := range limits {
		l := &limits[i]
		if best == nil || l.Remaining < best.Remaining || (l.Remaining == best.Remaining && l.Window < best.Window) {
			best = l
		}
	}
	if best == nil {
		return nil
	}
	cp := *best
	return &cp
}

// Field is one response header.
type Field struct{ Name, Value string }

// Fields are the x-ratelimit-* headers describing l (draft-ietf-httpapi-
// ratelimit-headers-03, the form Envoy's ratelimit filter writes): limit with its quota
// policy ("60, 60;w=60"), remaining, and seconds until reset.
func (l *Limit) Fields() [3]Field {
	limit := strconv.FormatUint(uint64(l.Requests), 10)
	return [3]Field{
		{header.RateLimitLimit, limit + ", " + limit + ";w=" + strconv.FormatInt(int64(l.Window/time.Second), 10)},
		{header.RateLimitRemaining, strconv.FormatUint(uint64(l.Remaining), 10)},
		{header.RateLimitReset, strconv.FormatInt(l.ResetSeconds(), 10)},
	}
}

// ResetSeconds is Reset rounded up to whole seconds, at least 1: the
// Retry-After of a refused request.
func (l *Limit) ResetSeconds() int64 {
	s := int64((l.Reset + time.Second - 1) / time.Second)
	return max(s, 1)
}

// ExceededError is a request over one of its quotas.
type ExceededError struct {
	// Limit is the limit exceeded (or the tightest); nil when the service
	// said over limit without naming one.
	Limit *Limit
}

func (e *ExceededError) Error() string {
	switch {
	case e.Limit == nil:
		return "request quota exceeded"
	case e.Limit.Tokens:
		return fmt.Sprintf("token quota exceeded: %d tokens per %s", e.Limit.Requests, e.Limit.Window)
	}
	return fmt.Sprintf("request quota exceeded: %d requests per %s", e.Limit.Requests, e.Limit.Window)
}

// Tokens reports whether a token quota was exceeded.
func (e *ExceededError) Tokens() bool { return e.Limit != nil && e.Limit.Tokens }

// RetryAfter is the Retry-After value in seconds.
func (e *ExceededError) RetryAfter() int64 {
	if e.Limit == nil {
		return 1
	}
	return e.Limit.ResetSeconds()
}
