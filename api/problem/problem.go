// Package problem defines the RFC 9457 problem details body that every
// modelgate component returns for errors, and the stable type URIs that
// clients may branch on.
package problem

import "encoding/json"

// TypeBase prefixes every problem type URI. The URIs are documented in the
// README; clients compare them as opaque strings.
const TypeBase = "https://modelgate.dev/problems/"

// Stable problem type URIs.
const (
	TypeMalformedJSON        = TypeBase + "malformed-json"
	TypeUnsupportedMediaType = TypeBase + "unsupported-media-type"
	TypeBodyTooLarge         = TypeBase + "body-too-large"
	TypeHeadersTooLarge      = TypeBase + "headers-too-large"
	TypeValidation           = TypeBase + "validation-failed"
	TypeTooManyRows          = TypeBase + "too-many-rows"
	TypeUnknownModel         = TypeBase + "unknown-model"
	TypeUnknownVersion       = TypeBase + "unknown-model-version"
	TypeNotFound             = TypeBase + "not-found"
	TypeMethodNotAllowed     = TypeBase + "method-not-allowed"
	TypeUnauthorized         = TypeBase + "unauthorized"
	TypeForbidden            = TypeBase + "forbidden"
	TypeQuotaExceeded        = TypeBase + "quota-exceeded"
	TypeGone                 = TypeBase + "route-sunset"
	TypeUnavailable          = TypeBase + "service-unavailable"
	TypeTimeout              = TypeBase + "upstream-timeout"
	TypeInternal             = TypeBase + "internal-error"
	// TypeWrongModelKind answers a route the named model does not serve:
	// a text-generation model on a prediction route, or a tabular model on
	// a chat or completions route.
	TypeWrongModelKind = TypeBase + "wrong-model-kind"
	// TypeContextLength answers a prompt that leaves no room in the
	// model's context window for a completion.
	TypeContextLength = TypeBase + "context-length-exceeded"
	// TypeUpstream answers a failure of an OpenAI-compatible upstream
	// (unreachable, 5xx, or a refusal that is not the client's fault).
	TypeUpstream = TypeBase + "upstream-failed"
	// TypeUpstreamRateLimited passes an upstream's 429 on, with its
	// Retry-After.
	TypeUpstreamRateLimited = TypeBase + "upstream-rate-limited"
	// TypeClientClosed records a request whose client went away before
	// the answer was ready (status 499, as nginx logs it); no client ever
	// reads it.
	TypeClientClosed = TypeBase + "client-closed-request"
	// TypeJobFinished answers a change asked of a job that has finished
	// (409).
	TypeJobFinished = TypeBase + "job-finished"
	// TypeIdempotencyKeyReused answers an Idempotency-Key sent again with
	// another body (422).
	TypeIdempotencyKeyReused = TypeBase + "idempotency-key-reused"
)

// Violation is one validation failure located by a JSON Pointer (RFC 6901)
// into the request body.
type Violation struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// Problem is an RFC 9457 problem details object with the extension members
// modelgate uses.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`

	// Errors lists every validation violation.
	Errors []Violation `json:"errors,omitempty"`
	// RequestID echoes the request id.
	RequestID string `json:"request_id,omitempty"`
	// Model and ModelVersion name what the request addressed, when known.
	Model        string `json:"model,omitempty"`
	ModelVersion string `json:"model_version,omitempty"`
	// Available lists what exists when a model or version is unknown.
	Available []string `json:"available,omitempty"`
	// RetryAfter is the number of seconds to wait on 429/503.
	RetryAfter int `json:"retry_after,omitempty"`
	// Deprecation and Sunset are set on 410 answers of sunset routes.
	Deprecation string `json:"deprecation,omitempty"`
	Sunset      string `json:"sunset,omitempty"`
	// OIPError repeats Detail (or Title) for Open Inference Protocol clients,
	// which read {"error": "..."}.
	OIPError string `json:"error,omitempty"`
}

// New returns a problem of the given type, status and title with detail.
func New(typ string, status int, title, detail string) *Problem {
	return &Problem{Type: typ, Status: status, Title: title, Detail: detail}
}

// Error implements error so a *Problem can travel through error returns.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// WithOIPError fills the Open Inference Protocol "error" member.
func (p *Problem) WithOIPError() *Problem {
	if p.Detail != "" {
		p.OIPError = p.Detail
	} else {
		p.OIPError = p.Title
	}
	return p
}

// JSON renders the problem. It never fails for this type.
func (p *Problem) JSON() []byte {
	b, err := json.Marshal(p)
	if err != nil { // unreachable: only strings, ints and slices of them
		return []byte(`{"type":"` + TypeInternal + `","title":"Internal error","status":500}`)
	}
	return b
}
