package openai

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate/api/problem"
)

// Error is the OpenAI error object. The official clients pick the
// exception class from the HTTP status and expose these members on it.
type Error struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorBody is {"error": {...}}: what OpenAI-compatible servers answer on
// failure, and the data of the event that reports an error after a stream
// has begun.
type ErrorBody struct {
	Error Error `json:"error"`
}

// ProblemBody is an RFC 9457 problem+json body that also carries the
// OpenAI error object in its error member, so problem-aware and OpenAI
// clients read the same answer. Its error member shadows the problem's
// Open Inference Protocol one.
type ProblemBody struct {
	*problem.Problem
	Error Error `json:"error"`
}

// ProblemJSON is the body of p for an OpenAI-compatible route: the problem
// and its OpenAI error object. Both services answer with it.
func ProblemJSON(p *problem.Problem) []byte {
	b, err := json.Marshal(ProblemBody{Problem: p, Error: ErrorFor(p)})
	if err != nil { // unreachable: strings, ints and slices of them
		return p.JSON()
	}
	return b
}

// Error types, as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
)

// Error codes clients branch on.
const (
	CodeContextLengthExceeded = "context_length_exceeded"
	CodeModelNotFound         = "model_not_found"
	CodeInvalidAPIKey         = "invalid_api_key"
	CodeRateLimitExceeded     = "rate_limit_exceeded"
)

// ErrorFor renders a problem as the OpenAI error object: the type from the
// status, the code from the problem type (the documented OpenAI codes where
// one exists, else the type's slug in snake case), and the param from the
// first violation's pointer ("/messages/0/content" is
// "messages[0].content").
func ErrorFor(p *problem.Problem) Error {
	e := Error{Message: p.Title, Type: errorType(p.Status)}
	if p.Detail != "" {
		e.Message = p.Detail
	}
	code := errorCode(p.Type)
	e.Code = &code
	if len(p.Errors) > 0 {
		if param := Param(p.Errors[0].Pointer); param != "" {
			e.Param = &param
		}
	} else if code == CodeModelNotFound {
		param := "model"
		e.Param = &param
	}
	return e
}

func errorType(status int) string {
	switch {
	case status == 401:
		return TypeAuthentication
	case status == 403:
		return TypePermission
	case status == 429:
		return TypeRateLimit
	case status >= 500:
		return TypeServer
	default:
		return TypeInvalidRequest
	}
}

func errorCode(typ string) string {
	switch typ {
	case problem.TypeContextLength:
		return CodeContextLengthExceeded
	case problem.TypeUnknownModel, problem.TypeUnknownVersion:
		return CodeModelNotFound
	case problem.TypeUnauthorized:
		return CodeInvalidAPIKey
	case problem.TypeQuotaExceeded:
		return CodeRateLimitExceeded
	}
	slug := typ[strings.LastIndexByte(typ, '/')+1:]
	return strings.ReplaceAll(slug, "-", "_")
}

// Param turns a JSON Pointer into a request body into the dotted form the
// OpenAI error param uses: "/messages/0/content" is "messages[0].content",
// "" (the whole body) is "".
func Param(pointer string) string {
	var sb strings.Builder
	for i, tok := range problem.PointerTokens(pointer) {
		if _, err := strconv.Atoi(tok); err == nil && i > 0 {
			sb.WriteString("[" + tok + "]")
			continue
		}
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(tok)
	}
	return sb.String()
}
