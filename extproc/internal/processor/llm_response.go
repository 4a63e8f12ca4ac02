package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
)

// maxHeldEvent bounds what is held back of one server-sent event split
// across body chunks; an event longer than this is passed on unread.
const maxHeldEvent = 1 << 20

// sseState is what the response phase of a text-generation request
// watches: the usage the model reports, in the last event of a stream or
// in a JSON answer.
type sseState struct {
	// stream is true when the request asked for a stream; clientUsage
	// when it asked for the usage chunk itself (otherwise the gateway
	// asked for it and removes it again).
	stream, clientUsage bool
	// lean is true while the first body message of a lean stream is
	// awaited: the response headers were skipped, and what they would
	// have said (status, event stream or JSON) comes with the body.
	lean bool
	// watching is true once the response body was switched on: STREAMED
	// for an event stream (sse), BUFFERED (STREAMED in a lean stream) for
	// JSON.
	watching, sse bool
	// held is the start of an event whose end has not arrived yet, or of
	// a JSON answer that came in parts; heldOver is true once a JSON
	// answer outgrew maxHeldEvent (its usage is not read).
	held     []byte
	heldOver bool
	// seen is true once a usage object was read.
	seen bool
	// streamed counts the text bytes passed so far, the running estimate
	// of the completion until the usage arrives; bytesPerToken is the
	// tokenizer's (1 for bytes, 4 as an estimate for an upstream's).
	streamed, bytesPerToken int
	// promptEstimate is the prompt's tokens as the admission counts them
	// (whether or not it reserved them).
	promptEstimate int
	// charged is the charge last left in dynamic metadata.
	charged int
}

// textMember is the part of a chunk that carries text.
type textMember struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
}

// usageMember is the part of a completion or chunk the gateway reads.
type usageMember struct {
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Choices []json.RawMessage `json:"choices"`
}

// A lean stream answers a text generation in one ext_proc message fewer
// before its first token: the request-headers answer switches the
// response headers to SKIP and the body to STREAMED (Envoy honours a mode
// override only in a headers answer), the request-body answer leaves
// x-model-version, deprecation and x-ratelimit-* as dynamic metadata the
// text-generation routes add (api/header's metadata.go), and the first
// body message carries the status as a response attribute. Whether the
// answer is an event stream or JSON is read from its first byte: a JSON
// answer begins with '{', an event stream never does. The headers,
// content-length included, reach the client as the upstream sent them,
// which is why a usage chunk taken out of a stream is replaced by a
// comment of its length (blank).

// ResponseHeaders implements [Processor.ResponseHeaders]: a successful
// answer has its body switched on for this request, chunk by chunk for an
// event stream, whole for JSON.
func (p *llm) ResponseHeaders(_ context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error) {
	common := observeResponse(p.req, h)
	hs := Headers(h)
	if hs.Get(header.ModelVersion) == "" && p.req.Target.Version != "" {
		m := Mutation{}
		if common != nil {
			m.m = common.HeaderMutation
		}
		m.Set(header.ModelVersion, p.req.Target.Version)
		common = &extprocv3.CommonResponse{HeaderMutation: m.Proto()}
	}
	resp := responseHeadersResponse(common)
	if p.req.Status != 200 || h.GetEndOfStream() {
		return resp, nil
	}
	mt, _, _ := mime.ParseMediaType(hs.Get(header.ContentType))
	mode := extprocfilterv3.ProcessingMode_NONE
	switch mt {
	case header.MediaEventStream:
		mode, p.out.sse = extprocfilterv3.ProcessingMode_STREAMED, true
	case header.MediaJSON:
		mode = extprocfilterv3.ProcessingMode_BUFFERED
	default:
		return resp, nil
	}
	p.out.watching = true
	resp.ModeOverride = &extprocfilterv3.ProcessingMode{RequestBodyMode: p.req.RequestBodyMode, ResponseBodyMode: mode}
	return resp, nil
}

// ResponseBody implements [Processor.ResponseBody]. Events are read as
// they pass; when the gateway asked for the usage chunk on the client's
// behalf it is blanked, and events are passed on whole (a part split
// across chunks is held until its end arrives). At the end the tokens to
// charge are left in dynamic metadata for the stream-done quota call.
func (p *llm) ResponseBody(_ context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error) {
	p.req.addResponseBody(len(b.GetBody()))
	if p.out.lean {
		p.begin(b)
	}
	if !p.out.watching {
		return responseBodyResponse(nil), nil
	}
	var common *extprocv3.CommonResponse
	if p.out.sse {
		if out, changed := p.events(b.GetBody(), b.GetEndOfStream()); changed {
			common = &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
				Mutation: &extprocv3.BodyMutation_Body{Body: out}}}
		}
	} else {
		p.jsonPart(b)
	}
	resp := responseBodyResponse(common)
	p.charge(resp)
	return resp, nil
}

// begin reads what the skipped response headers of a lean stream would
// have said from its first body message that has a byte other than
// white space (or ends the body): the status from the response
// attributes, and whether the answer is an event stream.
func (p *llm) begin(b *extprocv3.HttpBody) {
	first := bytes.TrimLeft(b.GetBody(), " \t\r\n")
	if len(first) == 0 && !b.GetEndOfStream() {
		return
	}
	p.out.lean = false
	p.req.Status = parseStatus(p.req.Answer.Get(header.Status))
	if p.req.Status != 200 || len(first) == 0 {
		return
	}
	p.out.watching, p.out.sse = true, first[0] != '{'
}

// jsonPart reads the usage of a JSON answer: whole in one message
// (BUFFERED), or assembled from its parts (a lean stream's STREAMED body).
func (p *llm) jsonPart(b *extprocv3.HttpBody) {
	eos := b.GetEndOfStream()
	if eos && len(p.out.held) == 0 && !p.out.heldOver {
		p.readUsage(b.GetBody())
		return
	}
	if !p.out.heldOver {
		if len(p.out.held)+len(b.GetBody()) > maxHeldEvent {
			p.out.held, p.out.heldOver = nil, true
		} else {
			p.out.held = append(p.out.held, b.GetBody()...)
		}
	}
	if eos && !p.out.heldOver {
		p.readUsage(p.out.held)
	}
}

// events reads the complete events of held+chunk and returns what to pass
// on, and whether that differs from chunk.
func (p *llm) events(chunk []byte, eos bool) ([]byte, bool) {
	rewrite := !p.out.clientUsage
	if !rewrite && len(p.out.held) == 0 && bytes.HasSuffix(chunk, []byte("\n\n")) {
		// The common case: whole events, nothing to remove.
		p.scan(chunk, nil)
		return chunk, false
	}
	data := append(p.out.held, chunk...)
	end := bytes.LastIndex(data, []byte("\n\n"))
	var complete, rest []byte
	if end >= 0 {
		complete, rest = data[:end+2], data[end+2:]
	} else {
		rest = data
	}
	if eos || len(rest) > maxHeldEvent {
		complete, rest = data, nil
	}
	var out []byte
	if rewrite {
		out = make([]byte, 0, len(complete))
	}
	p.scan(complete, &out)
	p.out.held = append(p.out.held[:0:0], rest...)
	if !rewrite {
		return chunk, false
	}
	return out, true
}

// scan reads each event of data; with out set it appends every event to
// it, the usage-only chunk blanked.
func (p *llm) scan(data []byte, out *[]byte) {
	for len(data) > 0 {
		ev := data
		if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
			ev, data = data[:i+2], data[i+2:]
		} else {
			data = nil
		}
		drop := false
		if payload, ok := bytes.CutPrefix(bytes.TrimSpace(ev), []byte("data:")); ok {
			payload = bytes.TrimSpace(payload)
			if bytes.Contains(payload, []byte(`"usage"`)) {
				u := p.readUsage(payload)
				drop = u != nil && u.Usage != nil && len(u.Choices) == 0
			}
			if !drop && !p.out.seen {
				var t textMember
				if json.Unmarshal(payload, &t) == nil {
					for _, c := range t.Choices {
						p.out.streamed += len(c.Text) + len(c.Delta.Content)
					}
				}
			}
		}
		if out != nil {
			if drop {
				*out = appendBlank(*out, ev)
			} else {
				*out = append(*out, ev...)
			}
		}
	}
}

// appendBlank appends an event as long as ev that every client ignores:
// each line of ev turned into a comment (':' and spaces), line ends kept.
// A stream keeps the length its headers may have announced.
func appendBlank(out, ev []byte) []byte {
	lineStart := true
	for _, c := range ev {
		switch {
		case c == '\r' || c == '\n':
			lineStart = true
		case lineStart:
			c, lineStart = ':', false
		default:
			c = ' '
		}
		out = append(out, c)
	}
	return out
}

// readUsage records the usage of one completion or chunk, when it has one.
func (p *llm) readUsage(b []byte) *usageMember {
	var u usageMember
	if json.Unmarshal(b, &u) != nil || u.Usage == nil {
		return nil
	}
	p.out.seen = true
	p.req.Tokens.Prompt, p.req.Tokens.Completion = u.Usage.PromptTokens, u.Usage.CompletionTokens
	return &u
}

// charge leaves the tokens the admission did not count for the stream-done
// quota call: the completion, and the prompt beyond the reservation, once
// the usage arrived; until then a running estimate from the text passed,
// so that a client that goes away mid-stream is charged for what it got
// (Envoy charges whatever the metadata says when the stream ends), with the
// prompt's estimate when the admission reserved nothing (ext_authz chain).
func (p *llm) charge(resp *extprocv3.ProcessingResponse) {
	var n int
	if p.out.seen {
		n = p.req.Tokens.Completion + max(0, p.req.Tokens.Prompt-p.reserved)
	} else if per := max(p.out.bytesPerToken, 1); p.out.streamed > 0 {
		n = (p.out.streamed+per-1)/per + max(0, p.out.promptEstimate-p.reserved)
	}
	if n <= 0 || n == p.out.charged {
		return
	}
	p.out.charged = n
	var md DynamicMetadata
	// A string: Envoy's hits_addend reads the formatted value as an
	// integer, and a struct number would format as a float.
	md.SetString(TokensNamespace, TokensCharge, strconv.Itoa(n))
	md.AddTo(resp)
}

// Close implements [Processor.Close].
func (p *llm) Close() {}
