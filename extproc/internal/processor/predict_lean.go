package processor

import (
	"bytes"
	"encoding/json"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
)

// A lean fill answers a cache miss in three ext_proc messages instead of
// four. The request-headers answer switches this request's response
// headers to SKIP and its body to BUFFERED_PARTIAL (Envoy honours a mode
// override only in a headers answer, before the body says whether the
// request is a hit; hits and refusals are local replies, which ext_proc
// does not process, so only routed requests are affected). The request-body
// answer that routes a miss leaves the headers the response-headers answer
// would have set as dynamic metadata, which the prediction routes add
// (api/header's metadata.go). The body then arrives with the status and
// headers the cache needs as response attributes, and is stored when
// storable: BUFFERED_PARTIAL sends a body beyond Envoy's buffer limit in
// part (end_of_stream false), and such a body is never stored.

// leanFill sets the mode override of a lean fill on the request-headers
// answer when the request may fill the cache.
func (p *predict) leanFill(resp *extprocv3.ProcessingResponse) {
	if !p.cfg.Cache.LeanFill || p.cfg.Cache.Store == nil || p.cache.noStore {
		return
	}
	p.out.lean = true
	resp.ModeOverride = skipResponseHeaders(p.req, extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL)
}

// skipResponseHeaders is the mode override of an answer whose response
// headers the plugin does not see (a lean fill, a lean stream): the
// request's modes as configured, the response body in mode body.
func skipResponseHeaders(r *Request, body extprocfilterv3.ProcessingMode_BodySendMode) *extprocfilterv3.ProcessingMode {
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode:  extprocfilterv3.ProcessingMode_SEND,
		RequestBodyMode:    r.RequestBodyMode,
		ResponseHeaderMode: extprocfilterv3.ProcessingMode_SKIP,
		ResponseBodyMode:   body,
	}
}

// leaveHeaders puts the response headers of a routed lean-fill request on
// its request-body answer as dynamic metadata.
func (p *predict) leaveHeaders(resp *extprocv3.ProcessingResponse) {
	var extra []string
	if p.cache.on {
		extra = []string{header.Cache, p.req.Cache}
	}
	leaveAnswerHeaders(p.req, resp, extra...)
}

// readLeanAnswer reads the answer's status from the response attributes
// that came with its body and decides whether the body fills the cache: a
// whole 200 body from the version the request was routed to (Envoy routed
// on it), JSON, or on the Open Inference Protocol route a binary answer
// whose JSON head is its first value. The model servers answer
// predictions as application/json or application/octet-stream and never
// with Cache-Control, which the full path reads from the headers.
func (p *predict) readLeanAnswer(b *extprocv3.HttpBody) {
	p.out.lean = false
	p.req.Status = parseStatus(p.req.Answer.Get(header.Status))
	body := b.GetBody()
	if !p.mayStore(b.GetEndOfStream()) {
		p.release()
		return
	}
	o := responseState{storing: true, contentType: header.MediaJSON, headLength: -1, version: p.req.Target.Version}
	if p.route.oip && !json.Valid(body) {
		if o.headLength = jsonHeadLength(body); o.headLength < 0 {
			p.release()
			return
		}
		o.contentType = header.MediaOctetStream
	}
	p.out = o
}

// jsonHeadLength is the length of the JSON object a binary Open Inference
// Protocol answer begins with, -1 when it does not begin with one.
func jsonHeadLength(body []byte) int {
	if len(body) == 0 || body[0] != '{' {
		return -1
	}
	d := json.NewDecoder(bytes.NewReader(body))
	var head json.RawMessage
	if err := d.Decode(&head); err != nil {
		return -1
	}
	return int(d.InputOffset())
}
