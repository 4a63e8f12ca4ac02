package processor

import (
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/modelgate/modelgate/api/header"
)

// HeaderList reads header values from an ext_proc HeaderMap.
type HeaderList []*corev3.HeaderValue

// Headers returns the headers of an ext_proc headers message.
func Headers(h *extprocv3.HttpHeaders) HeaderList {
	return HeaderList(h.GetHeaders().GetHeaders())
}

// Get returns the first value of the lower-case header name. Envoy sends
// values in raw_value and leaves value empty; value is read only when
// raw_value is empty, for older senders.
func (l HeaderList) Get(name string) string {
	for _, h := range l {
		if h.GetKey() == name {
			if len(h.GetRawValue()) > 0 {
				return string(h.GetRawValue())
			}
			return h.GetValue()
		}
	}
	return ""
}

// Mutation collects header changes. Values always go into raw_value: with
// raw_value on (the default since Envoy 1.27) Envoy reads only raw_value,
// sets a header to "" when only value is given, and rejects a mutation that
// fills both. append stays unset, which overwrites (append_action is ignored
// by ext_proc).
type Mutation struct{ m *extprocv3.HeaderMutation }

// Set overwrites (or adds) a header.
func (m *Mutation) Set(name, value string) {
	if m.m == nil {
		m.m = &extprocv3.HeaderMutation{}
	}
	m.m.SetHeaders = append(m.m.SetHeaders, &corev3.HeaderValueOption{
		Header: &corev3.HeaderValue{Key: name, RawValue: []byte(value)},
	})
}

// Remove removes a header.
func (m *Mutation) Remove(name string) {
	if m.m == nil {
		m.m = &extprocv3.HeaderMutation{}
	}
	m.m.RemoveHeaders = append(m.m.RemoveHeaders, name)
}

// Proto returns the mutation, nil when empty.
func (m *Mutation) Proto() *extprocv3.HeaderMutation { return m.m }

// answerHeaders calls set with each header the plugin adds to every
// answer of r: the route's deprecation announcement and the x-ratelimit-*
// headers of the request's tightest quota. A mutation sets them
// ([Mutation.setAnswerHeaders]); a lean cache fill leaves them as dynamic
// metadata for the route to add.
func (r *Request) answerHeaders(set func(name, value string)) {
	if r.Deprecation != nil {
		for _, h := range r.Deprecation.Headers() {
			set(h.Name, h.Value)
		}
	}
	if r.Quota != nil {
		for _, f := range r.Quota.Fields() {
			set(f.Name, f.Value)
		}
	}
}

// leaveAnswerHeaders puts r's [Request.answerHeaders], and the name and
// value pairs of extra, on resp as dynamic metadata under
// header.MetadataNamespace, which the routes add to the answer: the
// request-body answer of a request whose response headers the plugin
// skips (a lean cache fill, a lean stream).
func leaveAnswerHeaders(r *Request, resp *extprocv3.ProcessingResponse, extra ...string) {
	var md DynamicMetadata
	for i := 0; i+1 < len(extra); i += 2 {
		md.SetString(header.MetadataNamespace, extra[i], extra[i+1])
	}
	r.answerHeaders(func(name, value string) { md.SetString(header.MetadataNamespace, name, value) })
	md.AddTo(resp)
}

// setAnswerHeaders sets r's [Request.answerHeaders].
func (m *Mutation) setAnswerHeaders(r *Request) { r.answerHeaders(m.Set) }

// requestHeadersResponse answers a request_headers message; c is nil to
// let the request continue unchanged. The other three answer their phase
// the same way.
func requestHeadersResponse(c *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: c}}}
}

func requestBodyResponse(c *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: c}}}
}

func responseHeadersResponse(c *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{
		ResponseHeaders: &extprocv3.HeadersResponse{Response: c}}}
}

func responseBodyResponse(c *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: c}}}
}

// routeTo is the CommonResponse that makes Envoy route on the resolved
// model version: the headers and clear_route_cache must travel in the same
// CommonResponse, or Envoy ignores the clear.
func routeTo(r *Request) *extprocv3.CommonResponse {
	var m Mutation
	m.Set(header.Model, r.Target.Model)
	m.Set(header.ModelVersion, r.Target.Version)
	return &extprocv3.CommonResponse{HeaderMutation: m.Proto(), ClearRouteCache: true}
}

// Immediate builds an ImmediateResponse. It adds the request id, the
// route's deprecation headers (Envoy does not run ext_proc over its own
// local reply, so they must be here) and, when known, the model version.
// content-length is left to Envoy, which computes it for local replies.
func Immediate(r *Request, status int, contentType string, body []byte, details string, extra *Mutation) *extprocv3.ProcessingResponse {
	m := extra
	if m == nil {
		m = &Mutation{}
	}
	m.Set(header.ContentType, contentType)
	if r.RequestID != "" {
		m.Set(header.RequestID, r.RequestID)
	}
	if r.Target.Version != "" {
		m.Set(header.ModelVersion, r.Target.Version)
	}
	m.setAnswerHeaders(r)
	r.Status = status
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: m.Proto(),
			Body:    body,
			Details: details,
		}}}
}

// parseStatus reads :status; 0 when absent or malformed.
func parseStatus(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}
