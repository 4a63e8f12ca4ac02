// Package processor holds the per-route ext_proc processors. The stream
// loop in package server picks one per HTTP request on the first
// request_headers message and hands it every phase; a processor answers each
// phase with exactly one ProcessingResponse of the matching type, or with an
// error that the server's single error mapper turns into an
// ImmediateResponse.
package processor

import (
	"context"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Processor handles the phases of one HTTP request. Each method answers one
// Envoy message.
type Processor interface {
	// RequestHeaders implements the request_headers phase.
	RequestHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error)
	// RequestBody implements the request_body phase.
	RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error)
	// ResponseHeaders implements the response_headers phase.
	ResponseHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error)
	// ResponseBody implements the response_body phase.
	ResponseBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error)
	// Close ends the request: it releases whatever the processor holds
	// (such as a coalesced cache miss others wait on). Called once.
	Close()
}

// Factory builds the processor for one request.
type Factory func(d *Deps, r *Request) Processor

// Runtime is the reloadable part of the configuration.
type Runtime interface {
	Catalog() *catalog.Catalog
	Deprecations() *deprecation.Table
}

// Scopes tells whether an API key may use a model.
type Scopes interface {
	Allows(keyID, model string) bool
}

// Limits bound request bodies.
type Limits struct {
	MaxBodyBytes int64
	MaxRows      int
}

// Deps are the long-lived dependencies of every processor.
type Deps struct {
	Runtime   Runtime
	Validator *policy.Validator
	// ValidBodies remembers bodies that passed their schema; nil
	// validates every body.
	ValidBodies *policy.Memo
	// Cache is nil when response caching is off.
	Cache *cache.Store
	// ShareCache keys cache entries without the client id, so clients see
	// each other's cached answers.
	ShareCache bool
	// MaxCacheEntryBytes skips storing larger responses.
	MaxCacheEntryBytes int64
	// Scopes is nil when model scopes are not checked.
	Scopes Scopes
	Limits Limits
	Now    func() time.Time
	// Keys, when set, makes the plugin check API keys itself in the
	// request_headers phase; nil means Envoy's ext_authz filter did it and
	// the identity headers are trusted (Envoy strips client-sent ones).
	Keys KeyChecker
	// Quota, when set, makes the plugin count each request against its
	// quotas itself, in one call to the ratelimit service; nil means
	// Envoy's ratelimit filters do it.
	Quota quota.Checker
}

// Request is what one stream knows about its HTTP request. The stream loop
// reads it for the error mapper and the usage record.
type Request struct {
	Start time.Time
	Match routing.Match
	// Method is the :method pseudo-header.
	Method    string
	RequestID string
	Client    string
	Tier      string
	KeyID     string
	// Target is the resolved model version, once known.
	Target routing.Target
	// Deprecation is the route's deprecation policy, or nil.
	Deprecation *deprecation.Policy
	// Status is the HTTP status sent to the client, once known.
	Status int
	// Cache is the cache result (HIT, MISS, BYPASS) or "".
	Cache string
	// Problem is the type URI of the problem extproc answered with.
	Problem       string
	RequestBytes  int64
	ResponseBytes int64
	Rows          int
	// RequestBodyMode is the configured request body mode, from the
	// protocol_config Envoy sends with the first message.
	RequestBodyMode extprocfilterv3.ProcessingMode_BodySendMode
	// Quota is the tightest quota the request counted against, for the
	// x-ratelimit-* headers; nil when the plugin does not count quotas or
	// no limit applied.
	Quota *quota.Limit

	sawResponseBody bool
	// authenticated is true once the plugin itself accepted the key.
	authenticated bool
	// admitted is true once the request was counted against its quotas.
	admitted bool
}

// addResponseBody counts response body bytes; once a body is seen its size
// replaces the content-length guess.
func (r *Request) addResponseBody(n int) {
	if !r.sawResponseBody {
		r.sawResponseBody, r.ResponseBytes = true, 0
	}
	r.ResponseBytes += int64(n)
}

// NewRequest starts the record of a request whose first message arrived at
// start.
func NewRequest(start time.Time) *Request {
	return &Request{Start: start, RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED}
}

// ReadHeaders fills r from the request headers and the route table: the
// route, the request id, the client (checking its key when the plugin does
// the key check: a refused key is a *KeyError) and the route's deprecation
// policy (a route past its sunset is a *deprecation.SunsetError).
func (d *Deps) ReadHeaders(ctx context.Context, r *Request, h *extprocv3.HttpHeaders) error {
	hs := Headers(h)
	r.Method = hs.Get(header.Method)
	r.Match = routing.Route(r.Method, hs.Get(header.Path))
	r.RequestID = hs.Get(header.RequestID)
	if err := d.authenticate(ctx, r, hs); err != nil {
		return err
	}
	r.Deprecation = d.Runtime.Deprecations().Lookup(r.Match.Path)
	if r.Deprecation != nil {
		return r.Deprecation.Check(d.Now())
	}
	return nil
}

// IsOIP reports whether the route speaks the Open Inference Protocol, whose
// clients read errors from an "error" member.
func (r *Request) IsOIP() bool {
	return r.Match.Kind == routing.Infer || r.Match.Kind == routing.ModelMetadata
}
