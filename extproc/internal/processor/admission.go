package processor

import (
	"cmp"
	"context"
	"fmt"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/tracing"
)

// KeyChecker authenticates the API key of a request from its x-api-key and
// Authorization header values. Its errors are those of package authz
// (ErrMissing, ErrUnknown, ...); anything else denies as an internal
// failure.
type KeyChecker interface {
	Authenticate(ctx context.Context, apiKey, authorization, requestID string) (authz.Principal, error)
}

// Scopes tells whether an API key may use a model.
type Scopes interface {
	Allows(keyID, model string) bool
}

// DeprecationSource returns the deprecation table in force; it may change
// between calls (reloads).
type DeprecationSource interface {
	Deprecations() *deprecation.Table
}

// AdmissionConfig are the dependencies of [Admission].
type AdmissionConfig struct {
	// Keys, when set, makes the plugin check API keys itself in the
	// request_headers phase; nil means Envoy's ext_authz filter did it and
	// the identity headers are trusted (Envoy strips client-sent ones).
	Keys KeyChecker
	// Scopes is nil when model scopes are not checked.
	Scopes Scopes
	// Quota, when set, makes the plugin count each request against its
	// quotas itself, in one call to the ratelimit service; nil means
	// Envoy's ratelimit filters do it.
	Quota quota.Checker
	// Deprecations is nil when no route is deprecated.
	Deprecations DeprecationSource
	// Methods, when set, answers 405 to methods a declared path lacks.
	Methods MethodTable
	// Now defaults to time.Now.
	Now func() time.Time
}

// Admission is what every processor shares to let a request in: who the
// client is (the key check, or the identity ext_authz set), whether its
// route is past its sunset, whether its key may use a model, and the one
// quota call per request. The stream loop uses it too: it reads the
// request headers before any processor runs, and counts a refused request
// before the error is answered.
type Admission struct{ cfg AdmissionConfig }

// NewAdmission returns the admission of cfg.
func NewAdmission(cfg AdmissionConfig) *Admission {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Admission{cfg: cfg}
}

// Now is the clock of the gateway.
func (a *Admission) Now() time.Time { return a.cfg.Now() }

// KeyError is a request refused by the key check in the request_headers
// phase. Err is the authz error.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return "api key refused: " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// ForbiddenError reports an API key that may not use a model.
type ForbiddenError struct {
	KeyID, Model string
}

func (e *ForbiddenError) Error() string {
	if e.KeyID == "" {
		return fmt.Sprintf("the request carries no authenticated API key, which model %q requires", e.Model)
	}
	return fmt.Sprintf("API key %s may not use model %q", e.KeyID, e.Model)
}

// ReadHeaders fills r from the request headers and the route table: the
// route, the request id, the client (checking its key when the plugin does
// the key check: a refused key is a *KeyError) and the route's deprecation
// policy (a route past its sunset is a *deprecation.SunsetError).
func (a *Admission) ReadHeaders(ctx context.Context, r *Request, h *extprocv3.HttpHeaders) error {
	hs := Headers(h)
	r.Method = hs.Get(header.Method)
	r.Match = routing.Route(r.Method, hs.Get(header.Path))
	r.RequestID = hs.Get(header.RequestID)
	if err := a.authenticate(ctx, r, hs); err != nil {
		return err
	}
	if err := a.checkMethod(r); err != nil {
		return err
	}
	if a.cfg.Deprecations != nil {
		r.Deprecation = a.cfg.Deprecations.Deprecations().Lookup(r.Match.Path)
	}
	if r.Deprecation != nil {
		return r.Deprecation.Check(a.cfg.Now())
	}
	return nil
}

// authenticate checks the key when the plugin does the key check itself
// (AdmissionConfig.Keys set) and fills the identity; otherwise the identity
// comes from the headers ext_authz set (and Envoy stripped from the
// client's request).
func (a *Admission) authenticate(ctx context.Context, r *Request, hs HeaderList) error {
	r.Session = hs.Get(header.Session)
	if a.cfg.Keys == nil {
		r.Client, r.Tier, r.KeyID = hs.Get(header.Client), hs.Get(header.Tier), hs.Get(header.KeyID)
		return nil
	}
	actx, end := tracing.Span(ctx, "authz")
	p, err := a.cfg.Keys.Authenticate(actx, hs.Get(header.APIKey), hs.Get(header.Authorization), r.RequestID)
	end(err)
	if err != nil {
		return &KeyError{Err: err}
	}
	r.Client, r.Tier, r.KeyID = p.Client, p.Tier, p.KeyID
	r.authenticated = true
	return nil
}

// allows reports whether the key may use the model; true when scopes are
// not checked.
func (a *Admission) allows(keyID, model string) bool {
	return a.cfg.Scopes == nil || a.cfg.Scopes.Allows(keyID, model)
}

// checkScope returns a *ForbiddenError unless the request's key may use
// its target model.
func (a *Admission) checkScope(r *Request) error {
	if a.allows(r.KeyID, r.Target.Model) {
		return nil
	}
	return &ForbiddenError{KeyID: r.KeyID, Model: r.Target.Model}
}

// Admit counts the request against its quotas, once: the per-client quotas
// and, when t is a resolved version the key may use, the per-client-per-
// model quota, in one call to the quota service. Over quota is a
// *quota.ExceededError. When the service cannot answer the request is
// admitted (fail open; the checker counts it). Without a checker (quotas
// enforced by Envoy's ratelimit filters) it does nothing.
func (a *Admission) Admit(ctx context.Context, r *Request, t *routing.Target) error {
	if a.cfg.Quota == nil || r.admitted || !r.authenticated {
		return nil
	}
	r.admitted = true
	s := quota.Subject{Client: r.Client, Tier: r.Tier}
	if t != nil {
		s.Model, s.Version = t.Model, t.Version
		s.Tokens = uint64(max(r.Tokens.Reserved, 0))
	}
	dec, err := a.cfg.Quota.Check(ctx, quota.Descriptors(s))
	if err != nil {
		return nil
	}
	r.Quota = dec.Tightest
	if dec.Over {
		return &quota.ExceededError{Limit: cmp.Or(dec.Exceeded, dec.Tightest)}
	}
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
