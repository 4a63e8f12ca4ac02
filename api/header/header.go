// Package header holds the canonical names of the HTTP headers that Envoy,
// extproc and inference exchange. Every component refers to these constants
// instead of spelling header names itself, so a rename happens in one place.
//
// Names are lower-case because Envoy lower-cases header keys on the wire
// (HTTP/2 requires it) and ext_proc/ext_authz hand them to us that way.
package header

import "strings"

const (
	// APIKey carries the client's API key. It is removed by extproc before
	// the request goes upstream.
	APIKey = "x-api-key"
	// Authorization may carry the API key as "Bearer <key>".
	Authorization = "authorization"
	// WWWAuthenticate is sent with every 401.
	WWWAuthenticate = "www-authenticate"

	// Client names the authenticated client; set by ext_authz for the
	// ratelimit descriptors and usage records.
	Client = "x-modelgate-client"
	// Tier names the authenticated client's tier (free, pro, internal, ...).
	Tier = "x-modelgate-tier"
	// KeyID names the API key that authenticated the request (never the key).
	KeyID = "x-modelgate-key-id"

	// Model names the resolved model; Envoy routes on it.
	Model = "x-model"
	// ModelVersion names the concrete model version. On a request it pins the
	// version (an alias such as "latest" is accepted); on a response it names
	// the version that served.
	ModelVersion = "x-model-version"
	// Session optionally names the client's end user or session. A weighted
	// alias (a canary) picks its version per client and session, so one
	// session sees one version; it gives a client no power it lacks, since
	// the client may pin x-model-version anyway.
	Session = "x-session-id"

	// RequestID correlates a request across Envoy, extproc and inference.
	RequestID = "x-request-id"

	// Cache reports the response cache result: HIT, MISS or BYPASS.
	Cache = "x-cache"
	// Age is the standard age of a cached response in seconds.
	Age = "age"
	// CacheControl is read for no-cache / no-store.
	CacheControl = "cache-control"

	// Deprecation is the RFC 9745 header.
	Deprecation = "deprecation"
	// Sunset is the RFC 8594 header.
	Sunset = "sunset"
	// Link carries rel="deprecation" on deprecated routes.
	Link = "link"

	// ContentType is the standard content type header.
	ContentType = "content-type"
	// ContentLength is the standard content length header.
	ContentLength = "content-length"
	// RetryAfter is the standard retry hint.
	RetryAfter = "retry-after"
	// Allow lists the methods of a path on a 405 answer.
	Allow = "allow"
	// RetryAfterMS is the same hint in milliseconds, which the OpenAI
	// clients read before Retry-After.
	RetryAfterMS = "retry-after-ms"
	// ShouldRetry tells OpenAI-style clients whether retrying can succeed;
	// "false" on a 429 whose window is too long to wait out.
	ShouldRetry = "x-should-retry"
	// RateLimitLimit, RateLimitRemaining and RateLimitReset describe the
	// tightest quota a request counted against (draft-ietf-httpapi-
	// ratelimit-headers-03, as Envoy's ratelimit filter writes them); absent
	// when no limit applies, as for an unlimited tier.
	RateLimitLimit     = "x-ratelimit-limit"
	RateLimitRemaining = "x-ratelimit-remaining"
	RateLimitReset     = "x-ratelimit-reset"

	// InferenceHeaderContentLength is the length of the JSON head of an
	// Open Inference Protocol request or response in the binary tensor data
	// extension.
	InferenceHeaderContentLength = "inference-header-content-length"

	// Path, Method, Status and Authority are the HTTP/2 pseudo-headers that
	// Envoy includes in ext_proc and ext_authz messages.
	Path      = ":path"
	Method    = ":method"
	Status    = ":status"
	Authority = ":authority"
)

// Media types used across the project.
const (
	MediaJSON        = "application/json"
	MediaProblemJSON = "application/problem+json"
	MediaEventStream = "text/event-stream"
	MediaOctetStream = "application/octet-stream"
)

// IsJSON reports whether a parsed media type (no parameters) is JSON:
// application/json or any +json structured syntax suffix.
func IsJSON(mediaType string) bool {
	return mediaType == MediaJSON || strings.HasSuffix(mediaType, "+json")
}
