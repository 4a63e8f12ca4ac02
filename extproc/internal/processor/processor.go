// Package processor holds the per-route ext_proc processors. The stream
// loop in package server picks one per HTTP request on the first
// request_headers message and hands it every phase; a processor answers each
// phase with exactly one ProcessingResponse of the matching type, or with an
// error that the server's single error mapper turns into an
// ImmediateResponse.
//
// Each route's [Factory] is built once, in the app, from the dependencies
// that route needs (a [PredictConfig], a [CatalogSource]) and the shared
// [Admission]: key check, sunset, model scopes and the one quota call.
package processor

import (
	"context"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/modelgate/modelgate/api/header"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/extproc/internal/routing"
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

// Factory builds the processor for one request. Each route's factory is
// made by its constructor (NewV1Predict, NewMetadata, ...) from the
// dependencies that route needs; the request is all it gets per call.
type Factory func(r *Request) Processor

// Limits bound request bodies.
type Limits struct {
	MaxBodyBytes int64
	MaxRows      int
	// MaxDocumentBytes bounds the heap of a decoded body (0:
	// policy.MaxDocumentBytes).
	MaxDocumentBytes int
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
	// Session is the x-session-id request header: with Client, the subject
	// a weighted alias picks its version by.
	Session string
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
	// Tokens are the text-generation routes' token counts.
	Tokens Tokens
	// RequestBodyMode is the configured request body mode, from the
	// protocol_config Envoy sends with the first message.
	RequestBodyMode extprocfilterv3.ProcessingMode_BodySendMode
	// Quota is the tightest quota the request counted against, for the
	// x-ratelimit-* headers; nil when the plugin does not count quotas or
	// no limit applied.
	Quota *quota.Limit
	// Answer is what the ext_proc filter's response_attributes said of the
	// upstream answer (status and the headers of api/header's
	// ResponseAttributes), for a processor that skipped its headers.
	Answer HeaderList

	sawResponseBody bool
	// authenticated is true once the plugin itself accepted the key.
	authenticated bool
	// admitted is true once the request was counted against its quotas.
	admitted bool
}

// Tokens are what a text-generation request reserved of its token quotas
// and what the model reported using.
type Tokens struct {
	Reserved, Prompt, Completion int
}

// addResponseBody counts response body bytes; once a body is seen its size
// replaces the content-length guess.
func (r *Request) addResponseBody(n int) {
	if !r.sawResponseBody {
		r.sawResponseBody, r.ResponseBytes = true, 0
	}
	r.ResponseBytes += int64(n)
}

// ReadAttributes keeps the response attributes Envoy sends with the first
// response message (keyed by attribute expression, under the filter's
// name) as the headers they stand for. Messages without attributes leave
// what was read.
func (r *Request) ReadAttributes(attrs map[string]*structpb.Struct) {
	if len(attrs) == 0 {
		return
	}
	for _, a := range header.ResponseAttributes {
		for _, s := range attrs {
			v, ok := s.GetFields()[a.Expression]
			if !ok {
				continue
			}
			var text string
			switch k := v.GetKind().(type) {
			case *structpb.Value_StringValue:
				text = k.StringValue
			case *structpb.Value_NumberValue:
				text = strconv.FormatFloat(k.NumberValue, 'f', -1, 64)
			default:
				continue
			}
			r.Answer = append(r.Answer, &corev3.HeaderValue{Key: a.Header, RawValue: []byte(text)})
			break
		}
	}
}

// NewRequest starts the record of a request whose first message arrived at
// start.
func NewRequest(start time.Time) *Request {
	return &Request{Start: start, RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED}
}

// IsOIP reports whether the route speaks the Open Inference Protocol, whose
// clients read errors from an "error" member.
func (r *Request) IsOIP() bool {
	return r.Match.Kind == routing.Infer || r.Match.Kind == routing.ModelMetadata
}

// IsOpenAI reports whether the route is one of the OpenAI-compatible ones,
// whose clients read errors from an OpenAI error object.
func (r *Request) IsOpenAI() bool {
	return r.Match.Kind.Generates() || r.Match.Kind == routing.Models
}

// subject is what a weighted alias picks the version by.
func (r *Request) subject() string { return routing.Subject(r.Client, r.Session) }
