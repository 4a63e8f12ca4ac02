package header

// A cache miss that fills the response cache, and a text generation, are
// answered without the plugin seeing their response headers (one ext_proc
// message fewer): the plugin leaves the headers it would have added as
// dynamic metadata in its request-body answer, under MetadataNamespace
// keyed by header name, and the version routes add them with
// %DYNAMIC_METADATA(...)%
// (response_headers_to_add; a header whose key is unset is not added).
// The plugin learns the answer's status from the ext_proc filter's
// response_attributes instead, sent with the body.
const MetadataNamespace = "modelgate.response"

// FromMetadata are the response headers a route adds from
// MetadataNamespace. The text-generation routes skip the response headers
// too (a lean stream), and an upstream other than inference does not name
// the version it ran: the plugin leaves ModelVersion for them.
var FromMetadata = []string{Cache, Deprecation, Sunset, Link, RateLimitLimit, RateLimitRemaining, RateLimitReset, ModelVersion}

// ResponseAttributes are the ext_proc filter's response_attributes: the
// Envoy attribute of each response header the plugin reads when it does
// not receive the headers, by header name; the plugin finds each value
// under its attribute name. Only the status: Envoy 1.40 sends no
// response.headers[...] attribute for headers the filter skipped, so the
// plugin tells a JSON answer from a binary one by its body.
var ResponseAttributes = []Attribute{
	{Status, "response.code"},
}

// Attribute is one response header read through an Envoy attribute.
type Attribute struct {
	Header, Expression string
}
