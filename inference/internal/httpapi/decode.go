package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/scoring"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// rowsRequest is a decoded /v1 or /v2 predict body.
type rowsRequest struct {
	model   string
	version string // from the body; the x-model-version header wins
	rows    []predict.Row
	opts    predict.V2Options
	// violations are the body's problems found before the version is
	// known; they are reported together with the rows' own.
	violations []problem.Violation
}

// decodeV1 reads a /v1/predict body, which names no model.
func (s *Server) decodeV1(w http.ResponseWriter, r *http.Request) (rowsRequest, error) {
	var req rowsRequest
	obj, err := s.readObject(w, r, "inputs", "model_version", "options")
	if err != nil {
		return req, err
	}
	obj.decode(member{name: "model_version", dst: &req.version, want: "string"})
	if raw, ok := obj.members["options"]; ok && rawjson.Kind(raw) != "object" && rawjson.Kind(raw) != "null" {
		obj.add("/options", "wrong type: expected object, got "+rawjson.Kind(raw))
	}
	req.rows, err = obj.rows(s.cfg.MaxBatchRows)
	req.violations = obj.violations
	return req, err
}

// decodeV2 reads a /v2/predict body. A body without a model is refused
// here, as there is no version to check the rows against.
func (s *Server) decodeV2(w http.ResponseWriter, r *http.Request) (rowsRequest, error) {
	var req rowsRequest
	obj, err := s.readObject(w, r, "model", "version", "inputs", "options")
	if err != nil {
		return req, err
	}
	obj.decode(member{name: "model", dst: &req.model, want: "string"}, member{name: "version", dst: &req.version, want: "string"})
	if _, ok := obj.members["model"]; !ok {
		obj.add("/model", "missing")
	}
	if raw, ok := obj.members["options"]; ok && rawjson.Kind(raw) != "null" {
		obj.violations = append(obj.violations, decodeV2Options(raw, &req.opts)...)
	}
	if req.rows, err = obj.rows(s.cfg.MaxBatchRows); err != nil {
		return req, err
	}
	req.violations = obj.violations
	if req.model == "" {
		if len(req.violations) == 0 {
			req.violations = append(req.violations, problem.Violation{Pointer: "/model", Detail: "empty"})
		}
		return req, validationProblem(req.violations)
	}
	return req, nil
}

func decodeV2Options(raw json.RawMessage, opts *predict.V2Options) []problem.Violation {
	if rawjson.Kind(raw) != "object" {
		return []problem.Violation{{Pointer: "/options", Detail: "wrong type: expected object, got " + rawjson.Kind(raw)}}
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	var vs []problem.Violation
	for k, val := range m {
		switch k {
		case "return_probabilities":
			if rawjson.Kind(val) != "boolean" {
				vs = append(vs, problem.Violation{Pointer: "/options/return_probabilities", Detail: "wrong type: expected boolean, got " + rawjson.Kind(val)})
				continue
			}
			opts.ReturnProbabilities = string(val) == "true"
		default:
			vs = append(vs, problem.Violation{Pointer: problem.Pointer("options", k), Detail: "unknown option"})
		}
	}
	return vs
}

// object is a JSON body read as its members, with the problems found so far.
type object struct {
	members    map[string]json.RawMessage
	violations []problem.Violation
}

func (o *object) add(pointer, detail string) {
	o.violations = append(o.violations, problem.Violation{Pointer: pointer, Detail: detail})
}

// readObject reads a JSON body that must be an object and reports its
// unknown members.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request, known ...string) (*object, error) {
	body, err := readJSON(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return decodeObject(body, known...)
}

// readJSON checks the content type and reads the body under the limit.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	ct := r.Header.Get(header.ContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !header.IsJSON(mt) {
		return nil, &problem.Problem{
			Type: problem.TypeUnsupportedMediaType, Status: http.StatusUnsupportedMediaType,
			Title:  "Unsupported media type",
			Detail: fmt.Sprintf("content-type %q is not supported; send application/json", ct),
		}
	}
	return readBody(w, r, limit)
}

// readBody reads the request body under the limit. Over the limit is the
// *http.MaxBytesError the mapper answers 413; a body that breaks off is
// the client's problem, not a 500.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &problem.Problem{
			Type: problem.TypeMalformedJSON, Status: http.StatusBadRequest, Title: "Unreadable body",
			Detail: "the request body could not be read",
		}
	}
	return body, nil
}

// decodeObject parses body as a JSON object and reports unknown members.
func decodeObject(body []byte, known ...string) (*object, error) {
	o, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	o.refuseUnknown(known...)
	return o, nil
}

// parseObject parses body as a JSON object.
func parseObject(body []byte) (*object, error) {
	var obj map[string]json.RawMessage
	err := json.Unmarshal(body, &obj)
	if p := syntaxProblem(err); p != nil {
		return nil, p
	}
	if err != nil || obj == nil {
		return nil, validationProblem([]problem.Violation{{Pointer: "", Detail: "the body must be a JSON object"}})
	}
	if err := checkMembers(body); err != nil {
		return nil, err
	}
	return &object{members: obj}, nil
}

// refuseUnknown reports the members not in known.
func (o *object) refuseUnknown(known ...string) {
	var unknown []string
	for k := range o.members {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		o.add(problem.Pointer(k), "unknown member")
	}
}

// checkMembers refuses a body that parsed as JSON but repeats a member
// name, exactly or in another case, or nests too deeply: encoding/json
// would answer for one of the repeats while the gateway's cache key reads
// another. It is the same rule the gateway applies ([rawjson.CheckMembers]).
func checkMembers(body []byte) error {
	vs, err := rawjson.CheckMembers(body, rawjson.DefaultLimits)
	if err != nil {
		return malformed(err)
	}
	if len(vs) > 0 {
		return validationProblem(vs)
	}
	return nil
}

// syntaxProblem turns a JSON syntax error from json.Unmarshal into the
// malformed-JSON problem, with the byte offset; other errors give nil.
func syntaxProblem(err error) *problem.Problem {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformed(fmt.Errorf("%s at byte %d", se.Error(), se.Offset))
	}
	return nil
}

// member is one exactly named member of an object and where it decodes.
type member struct {
	name string
	dst  any
	want string // the expected type, for the violation
}

// decodeElement decodes the members of one array element that must be an
// object; ptr locates the element.
func decodeElement(raw json.RawMessage, ptr string, members ...member) []problem.Violation {
	var obj map[string]json.RawMessage
	if rawjson.Kind(raw) != "object" || json.Unmarshal(raw, &obj) != nil {
		return []problem.Violation{{Pointer: ptr, Detail: "wrong type: expected object, got " + rawjson.Kind(raw)}}
	}
	return decodeMembers(obj, ptr, members...)
}

// decodeMembers decodes the members of obj that are named exactly as
// listed, reporting a member of the wrong type at its pointer under ptr.
func decodeMembers(obj map[string]json.RawMessage, ptr string, members ...member) []problem.Violation {
	var vs []problem.Violation
	for _, m := range members {
		raw, ok := obj[m.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, m.dst); err != nil {
			vs = append(vs, problem.Violation{Pointer: ptr + "/" + problem.EscapePointer(m.name),
				Detail: "wrong type: expected " + m.want + ", got " + rawjson.Kind(raw)})
		}
	}
	return vs
}

// decode decodes the members named exactly as listed (see
// decodeMembers); null leaves the destination as it is.
func (o *object) decode(members ...member) {
	o.violations = append(o.violations, decodeMembers(o.members, "", members...)...)
}

// rows decodes the inputs member into rows, reporting shape problems. More
// rows than maxRows is a *scoring.TooManyRowsError, found before the rows
// are decoded.
func (o *object) rows(maxRows int) ([]predict.Row, error) {
	raw, ok := o.members["inputs"]
	if !ok {
		o.add("/inputs", "missing")
		return nil, nil
	}
	if rawjson.Kind(raw) != "array" {
		o.add("/inputs", "wrong type: expected array of objects, got "+rawjson.Kind(raw))
		return nil, nil
	}
	// Fast path: every element is an object (one pass over the rows).
	var fast []predict.Row
	if err := json.Unmarshal(raw, &fast); err == nil && len(fast) <= maxRows && len(fast) > 0 && !hasNil(fast) {
		return fast, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		o.add("/inputs", "wrong type: expected array of objects")
		return nil, nil
	}
	if len(elems) == 0 {
		o.add("/inputs", "empty: at least one row is required")
		return nil, nil
	}
	if len(elems) > maxRows {
		return nil, &scoring.TooManyRowsError{Rows: len(elems), Limit: maxRows}
	}
	rows := make([]predict.Row, len(elems))
	for i, e := range elems {
		if rawjson.Kind(e) != "object" {
			o.add("/inputs/"+strconv.Itoa(i), "wrong type: expected object, got "+rawjson.Kind(e))
			continue
		}
		if err := json.Unmarshal(e, &rows[i]); err != nil {
			o.add("/inputs/"+strconv.Itoa(i), "wrong type: expected object")
		}
	}
	return rows, nil
}

// hasNil reports a null row, which the fast path would otherwise accept.
func hasNil(rows []predict.Row) bool {
	return slices.ContainsFunc(rows, func(r predict.Row) bool { return r == nil })
}
