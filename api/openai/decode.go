package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// Limits bound what one request body may carry. Zero fields take
// DefaultLimits' values.
type Limits struct {
	// MaxMessages is the most chat messages.
	MaxMessages int
	// MaxContentBytes is the most bytes of message content (all messages
	// together) or prompt.
	MaxContentBytes int
	// MaxStop is the most stop strings (OpenAI allows 4).
	MaxStop int
	// MaxStopBytes is the longest stop string in bytes.
	MaxStopBytes int
	// MaxTokens is the largest max_tokens accepted at all; the model's own
	// limit is applied by the server.
	MaxTokens int
}

// DefaultLimits are the limits the inference service applies.
var DefaultLimits = Limits{MaxMessages: 256, MaxContentBytes: 512 << 10, MaxStop: 4, MaxStopBytes: 64, MaxTokens: 1 << 20}

func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.MaxMessages > 0 {
		d.MaxMessages = l.MaxMessages
	}
	if l.MaxContentBytes > 0 {
		d.MaxContentBytes = l.MaxContentBytes
	}
	if l.MaxStop > 0 {
		d.MaxStop = l.MaxStop
	}
	if l.MaxStopBytes > 0 {
		d.MaxStopBytes = l.MaxStopBytes
	}
	if l.MaxTokens > 0 {
		d.MaxTokens = l.MaxTokens
	}
	return d
}

// RequestError lists every problem found in a request body, each located
// by a JSON Pointer. Malformed JSON is a *rawjson.SyntaxError instead.
type RequestError struct {
	Violations []problem.Violation
}

func (e *RequestError) Error() string {
	if len(e.Violations) == 0 {
		return "invalid request"
	}
	v := e.Violations[0]
	return fmt.Sprintf("%d violation(s): %s: %s", len(e.Violations), v.Pointer, v.Detail)
}

// Roles a chat message may have; developer is OpenAI's newer name for
// system.
var roles = map[string]bool{"system": true, "developer": true, "user": true, RoleAssistant: true}

// DecodeChatRequest reads a chat completion request body. Members are
// matched by exact name (encoding/json would also take "MAX_TOKENS" for
// max_tokens, which the gateway's own reading would not); unknown members
// are ignored, as clients send many, but names repeated exactly or in
// another case are refused, by the rule both services apply
// ([rawjson.CheckMembers]). Features that would change the answer's shape
// and are not served (tools, logprobs, n > 1) are refused rather than
// ignored.
func DecodeChatRequest(body []byte, lim Limits) (*ChatCompletionRequest, error) {
	d, err := newDecoder(body, lim)
	if err != nil {
		return nil, err
	}
	req := &ChatCompletionRequest{Model: d.model()}
	req.Messages = d.messages()
	req.MaxCompletionTokens = d.tokens("max_completion_tokens")
	d.sampling(&req.Sampling)
	d.unsupported("tools", "functions", "logprobs", "top_logprobs", "audio")
	return req, d.err()
}

// DecodeCompletionRequest reads a plain completion request body by the
// same rules as [DecodeChatRequest]. The prompt is a string or an array of
// exactly one string; token-id prompts are refused.
func DecodeCompletionRequest(body []byte, lim Limits) (*CompletionRequest, error) {
	d, err := newDecoder(body, lim)
	if err != nil {
		return nil, err
	}
	req := &CompletionRequest{Model: d.model()}
	req.Prompt = d.prompt()
	d.sampling(&req.Sampling)
	d.unsupported("echo", "logprobs", "suffix", "best_of")
	return req, d.err()
}

// decoder reads the members of one request object, collecting violations.
type decoder struct {
	m   map[string]json.RawMessage
	lim Limits
	vs  []problem.Violation
}

func newDecoder(body []byte, lim Limits) (*decoder, error) {
	vs, err := rawjson.CheckMembers(body, rawjson.DefaultLimits)
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 {
		return nil, &RequestError{Violations: vs}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return nil, &RequestError{Violations: []problem.Violation{{Pointer: "", Detail: "the body must be a JSON object"}}}
	}
	return &decoder{m: m, lim: lim.orDefault()}, nil
}

func (d *decoder) add(ptr, detail string) {
	d.vs = append(d.vs, problem.Violation{Pointer: ptr, Detail: detail})
}

func (d *decoder) err() error {
	if len(d.vs) > 0 {
		return &RequestError{Violations: d.vs}
	}
	return nil
}

func wrongType(want string, raw json.RawMessage) string {
	return "wrong type: expected " + want + ", got " + rawjson.Kind(raw)
}

// present returns the member unless it is absent or null.
func (d *decoder) present(name string) (json.RawMessage, bool) {
	raw, ok := d.m[name]
	if !ok || rawjson.Kind(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (d *decoder) model() string {
	raw, ok := d.present("model")
	if !ok {
		d.add("/model", "missing")
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		d.add("/model", wrongType("string", raw))
		return ""
	}
	if s == "" || len(s) > 256 {
		d.add("/model", "must be 1 to 256 bytes")
		return ""
	}
	return s
}

// messages reads the chat messages; content may be a string or an array
// of text parts, which are joined.
func (d *decoder) messages() []Message {
	raw, ok := d.present("messages")
	if !ok {
		d.add("/messages", "missing")
		return nil
	}
	var elems []json.RawMessage
	if rawjson.Kind(raw) != "array" || json.Unmarshal(raw, &elems) != nil {
		d.add("/messages", wrongType("array", raw))
		return nil
	}
	switch {
	case len(elems) == 0:
		d.add("/messages", "empty: at least one message is required")
		return nil
	case len(elems) > d.lim.MaxMessages:
		d.add("/messages", fmt.Sprintf("at most %d messages", d.lim.MaxMessages))
		return nil
	}
	out := make([]Message, 0, len(elems))
	total := 0
	for i, e := range elems {
		ptr := "/messages/" + strconv.Itoa(i)
		var m map[string]json.RawMessage
		if rawjson.Kind(e) != "object" || json.Unmarshal(e, &m) != nil {
			d.add(ptr, wrongType("object", e))
			continue
		}
		msg := Message{Role: d.role(m["role"], ptr+"/role")}
		msg.Content = d.content(m["content"], ptr+"/content")
		total += len(msg.Content)
		out = append(out, msg)
	}
	if total > d.lim.MaxContentBytes {
		d.add("/messages", fmt.Sprintf("the messages' content is %d bytes; at most %d", total, d.lim.MaxContentBytes))
	}
	return out
}

func (d *decoder) role(raw json.RawMessage, ptr string) string {
	var role string
	switch {
	case raw == nil:
		d.add(ptr, "missing")
	case json.Unmarshal(raw, &role) != nil:
		d.add(ptr, wrongType("string", raw))
	case !roles[role]:
		d.add(ptr, "must be system, developer, user or assistant")
	}
	return role
}

func (d *decoder) content(raw json.RawMessage, ptr string) string {
	if raw == nil || rawjson.Kind(raw) == "null" {
		d.add(ptr, "missing")
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []json.RawMessage
	if rawjson.Kind(raw) != "array" || json.Unmarshal(raw, &parts) != nil {
		d.add(ptr, wrongType("string or array of text parts", raw))
		return ""
	}
	var sb bytes.Buffer
	for j, p := range parts {
		pptr := ptr + "/" + strconv.Itoa(j)
		var part map[string]json.RawMessage
		if rawjson.Kind(p) != "object" || json.Unmarshal(p, &part) != nil {
			d.add(pptr, wrongType("object", p))
			continue
		}
		var typ, text string
		if json.Unmarshal(part["type"], &typ) != nil || typ != "text" {
			d.add(pptr+"/type", `only "text" parts are supported`)
			continue
		}
		if json.Unmarshal(part["text"], &text) != nil || rawjson.Kind(part["text"]) != "string" {
			d.add(pptr+"/text", wrongType("string", part["text"]))
			continue
		}
		// Stop adding once over the limit; the total is reported anyway.
		if sb.Len() <= d.lim.MaxContentBytes {
			sb.WriteString(text)
		}
	}
	return sb.String()
}

// prompt reads a completion prompt: a string or an array of one string.
func (d *decoder) prompt() string {
	raw, ok := d.present("prompt")
	if !ok {
		d.add("/prompt", "missing")
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var list []json.RawMessage
		if rawjson.Kind(raw) != "array" || json.Unmarshal(raw, &list) != nil {
			d.add("/prompt", wrongType("string", raw))
			return ""
		}
		if len(list) != 1 || json.Unmarshal(list[0], &s) != nil || rawjson.Kind(list[0]) != "string" {
			d.add("/prompt", "an array prompt must hold exactly one string (no batches, no token ids)")
			return ""
		}
	}
	if len(s) > d.lim.MaxContentBytes {
		d.add("/prompt", fmt.Sprintf("the prompt is %d bytes; at most %d", len(s), d.lim.MaxContentBytes))
	}
	return s
}

// sampling reads the members chat and plain completions share.
func (d *decoder) sampling(s *Sampling) {
	s.MaxTokens = d.tokens("max_tokens")
	s.Temperature = d.number("temperature", 0, 2, true)
	s.TopP = d.number("top_p", 0, 1, false)
	if raw, ok := d.present("n"); ok {
		n, ok := integer(raw)
		if !ok || n != 1 {
			d.add("/n", "only n = 1 is supported")
		} else {
			one := 1
			s.N = &one
		}
	}
	if raw, ok := d.present("seed"); ok {
		if n, ok := integer(raw); ok {
			s.Seed = &n
		} else {
			d.add("/seed", wrongType("integer", raw))
		}
	}
	s.Stream = d.boolean("stream", "/stream")
	s.Stop = d.stop()
	if raw, ok := d.present("stream_options"); ok {
		var m map[string]json.RawMessage
		if rawjson.Kind(raw) != "object" || json.Unmarshal(raw, &m) != nil {
			d.add("/stream_options", wrongType("object", raw))
			return
		}
		s.StreamOptions = &StreamOptions{}
		if v, ok := m["include_usage"]; ok && rawjson.Kind(v) != "null" {
			if rawjson.Kind(v) != "boolean" {
				d.add("/stream_options/include_usage", wrongType("boolean", v))
			}
			s.StreamOptions.IncludeUsage = string(bytes.TrimSpace(v)) == "true"
		}
	}
}

// tokens reads a completion length: an integer from 1 to lim.MaxTokens.
func (d *decoder) tokens(name string) *int {
	raw, ok := d.present(name)
	if !ok {
		return nil
	}
	n, ok := integer(raw)
	if !ok || n < 1 || n > int64(d.lim.MaxTokens) {
		d.add("/"+name, fmt.Sprintf("must be an integer from 1 to %d", d.lim.MaxTokens))
		return nil
	}
	v := int(n)
	return &v
}

// number reads a number in [lo, hi], or (lo, hi] when loIncluded is false.
func (d *decoder) number(name string, lo, hi float64, loIncluded bool) *float64 {
	raw, ok := d.present(name)
	if !ok {
		return nil
	}
	if rawjson.Kind(raw) != "number" {
		d.add("/"+name, wrongType("number", raw))
		return nil
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || f > hi || f < lo || (f == lo && !loIncluded) || math.IsNaN(f) {
		bound := "["
		if !loIncluded {
			bound = "("
		}
		d.add("/"+name, fmt.Sprintf("must be in %s%g, %g]", bound, lo, hi))
		return nil
	}
	return &f
}

func (d *decoder) boolean(name, ptr string) bool {
	raw, ok := d.present(name)
	if !ok {
		return false
	}
	if rawjson.Kind(raw) != "boolean" {
		d.add(ptr, wrongType("boolean", raw))
		return false
	}
	return string(bytes.TrimSpace(raw)) == "true"
}

// stop reads stop as a string or an array of strings, each 1 to
// lim.MaxStopBytes bytes of valid UTF-8.
func (d *decoder) stop() []string {
	raw, ok := d.present("stop")
	if !ok {
		return nil
	}
	var list []string
	var one string
	switch {
	case json.Unmarshal(raw, &one) == nil:
		list = []string{one}
		d.checkStop(one, "/stop")
	case rawjson.Kind(raw) == "array" && json.Unmarshal(raw, &list) == nil:
		if len(list) > d.lim.MaxStop {
			d.add("/stop", fmt.Sprintf("at most %d stop strings", d.lim.MaxStop))
			return nil
		}
		for i, s := range list {
			d.checkStop(s, "/stop/"+strconv.Itoa(i))
		}
	default:
		d.add("/stop", wrongType("string or array of strings", raw))
		return nil
	}
	return list
}

func (d *decoder) checkStop(s, ptr string) {
	if s == "" || len(s) > d.lim.MaxStopBytes || !utf8.ValidString(s) {
		d.add(ptr, fmt.Sprintf("must be 1 to %d bytes of UTF-8", d.lim.MaxStopBytes))
	}
}

// unsupported refuses members that would change the answer's shape, unless
// they are null, false, zero, empty or the default of 1.
func (d *decoder) unsupported(names ...string) {
	for _, name := range names {
		raw, ok := d.present(name)
		if !ok {
			continue
		}
		switch string(bytes.TrimSpace(raw)) {
		case "false", "0", "1", `""`, "[]":
			continue
		}
		d.add("/"+name, "not supported")
	}
}

// integer parses a JSON number that is a whole number within int64
// ("2", "2.0" and "2e0" all are, as JSON Schema's integer says).
func integer(raw json.RawMessage) (int64, bool) {
	if rawjson.Kind(raw) != "number" {
		return 0, false
	}
	s := string(bytes.TrimSpace(raw))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	// -2^63 is an int64; 2^63 (the float nearest MaxInt64) is not.
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}
