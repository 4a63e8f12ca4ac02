package processor

import (
	"context"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/extproc/internal/routing"
)

// KeyChecker authenticates the API key of a request from its x-api-key and
// Authorization header values. Its errors are those of package authz
// (ErrMissing, ErrUnknown, ...); anything else denies as an internal
// failure.
type KeyChecker interface {
	Authenticate(ctx context.Context, apiKey, authorization, requestID string) (authz.Principal, error)
}

// KeyError is a request refused by the key check in the request_headers
// phase. Err is the authz error.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return "api key refused: " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// authenticate checks the key when the plugin does the key check itself
// (Deps.Keys set) and fills the identity; otherwise the identity comes from
// the headers ext_authz set (and Envoy stripped from the client's request).
func (d *Deps) authenticate(ctx context.Context, r *Request, hs HeaderList) error {
	if d.Keys == nil {
		r.Client, r.Tier, r.KeyID = hs.Get(header.Client), hs.Get(header.Tier), hs.Get(header.KeyID)
		return nil
	}
	p, err := d.Keys.Authenticate(ctx, hs.Get(header.APIKey), hs.Get(header.Authorization), r.RequestID)
	if err != nil {
		return &KeyError{Err: err}
	}
	r.Client, r.Tier, r.KeyID = p.Client, p.Tier, p.KeyID
	r.authenticated = true
	return nil
}

// WithIdentity adds to a request_headers answer what ext_authz would have
// done: the identity headers set and the key headers removed, so that no
// upstream ever sees the key. Other answers are returned unchanged.
func WithIdentity(r *Request, resp *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	hr, ok := resp.GetResponse().(*extprocv3.ProcessingResponse_RequestHeaders)
	if !ok || !r.authenticated {
		return resp
	}
	if hr.RequestHeaders.Response == nil {
		hr.RequestHeaders.Response = &extprocv3.CommonResponse{}
	}
	c := hr.RequestHeaders.Response
	m := Mutation{m: c.HeaderMutation}
	m.Set(header.Client, r.Client)
	m.Set(header.Tier, r.Tier)
	m.Set(header.KeyID, r.KeyID)
	m.Remove(header.APIKey)
	m.Remove(header.Authorization)
	c.HeaderMutation = m.Proto()
	return resp
}

// Admit counts the request against its quotas, once: the per-client quotas
// and, when t is a resolved version the key may use, the per-client-per-
// model quota, in one call to the quota service. Over quota is a
// *quota.ExceededError. When the service cannot answer the request is
// admitted (fail open; the checker counts it). Without a checker (quotas
// enforced by Envoy's ratelimit filters) it does nothing.
func (d *Deps) Admit(ctx context.Context, r *Request, t *routing.Target) error {
	if d.Quota == nil || r.admitted || !r.authenticated {
		return nil
	}
	r.admitted = true
	s := quota.Subject{Client: r.Client, Tier: r.Tier}
	if t != nil {
		s.Model, s.Version = t.Model, t.Version
	}
	dec, err := d.Quota.Check(ctx, quota.Descriptors(s))
	if err != nil {
		return nil
	}
	r.Quota = dec.Tightest
	if dec.Over {
		return &quota.ExceededError{Limit: dec.Tightest}
	}
	return nil
}

// setQuota adds the x-ratelimit-* headers of the request's tightest quota.
func (m *Mutation) setQuota(r *Request) {
	if r.Quota == nil {
		return
	}
	for _, f := range r.Quota.Fields() {
		m.Set(f.Name, f.Value)
	}
}
