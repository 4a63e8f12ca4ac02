package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/inference/internal/scoring"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/logging"
	"github.com/modelgate/modelgate/internal/rawjson"
)

// dialect is what a route's problem bodies carry beside RFC 9457.
type dialect int

const (
	plainProblems  dialect = iota
	oipProblems            // the Open Inference Protocol's error string
	openAIProblems         // the OpenAI error object
)

// dialectOf picks the dialect of an unrouted request by its path.
func dialectOf(r *http.Request) dialect {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v2"):
		return oipProblems
	case strings.HasPrefix(p, "/v1/chat/"), strings.HasPrefix(p, "/v1/completions"), strings.HasPrefix(p, "/v1/models"):
		return openAIProblems
	}
	return plainProblems
}

// writeProblem is the one place an error becomes an HTTP answer. Known error
// types map to their problem; anything else is a 500 whose detail never
// leaks internals, and whose cause is logged here. The dialect adds the
// Open Inference Protocol's error member or the OpenAI error object.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error, d dialect) {
	p := s.problemFor(r, err)
	body := p.JSON()
	switch d {
	case oipProblems:
		body = p.WithOIPError().JSON()
	case openAIProblems:
		body = openai.ProblemJSON(p)
	}
	w.Header().Set(header.ContentType, header.MediaProblemJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.RetryAfter > 0 {
		w.Header().Set(header.RetryAfter, fmt.Sprint(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// streamProblem is the data of the event that reports err once a stream
// has begun and no status can be sent any more: the problem writeProblem
// would have answered, as the OpenAI error object.
func (s *Server) streamProblem(r *http.Request, err error) []byte {
	b, _ := json.Marshal(openai.ErrorBody{Error: openai.ErrorFor(s.problemFor(r, err))})
	return b
}

// problemFor maps err to its problem, logging what the client did not
// cause, and records it for the access log.
func (s *Server) problemFor(r *http.Request, err error) *problem.Problem {
	p := toProblem(err)
	var pp *problem.Problem
	if p == nil {
		logging.FromContext(r.Context(), s.log).Error("request failed", slog.String("error", err.Error()))
		p = internalProblem()
	} else if p.Status >= 500 && !errors.As(err, &pp) {
		// An upstream failure or timeout: the answer names no internals,
		// the log does.
		logging.FromContext(r.Context(), s.log).Warn("request failed", slog.String("error", err.Error()))
	}
	if info := infoFrom(r.Context()); info != nil {
		p.RequestID = info.id
		info.problemType = p.Type
	}
	return p
}

// toProblem maps the errors handlers return to their problem; nil means
// the error is not one a client caused.
func toProblem(err error) *problem.Problem {
	var (
		p   *problem.Problem
		ve  *scoring.ValidationError
		tm  *scoring.TooManyRowsError
		um  *catalog.UnknownModelError
		uv  *catalog.UnknownVersionError
		ns  *registry.NotServedError
		mbe *http.MaxBytesError
		hle *oip.HeaderLengthError
		re  *openai.RequestError
		se  *rawjson.SyntaxError
		nt  *scoring.NotTabularError
		ue  *llm.UpstreamError
	)
	switch {
	case errors.As(err, &p):
		cp := *p
		return &cp
	case errors.As(err, &ve):
		return validationProblem(ve.Violations)
	case errors.As(err, &re):
		return validationProblem(re.Violations)
	case errors.As(err, &se):
		return malformed(se)
	case errors.As(err, &nt):
		return &problem.Problem{
			Type: problem.TypeWrongModelKind, Status: http.StatusBadRequest, Title: "Model does not serve this route",
			Detail: nt.Error(), Model: nt.Model, ModelVersion: nt.Version,
		}
	case errors.Is(err, llm.ErrPromptTooLong):
		return contextProblem("", err.Error())
	case errors.Is(err, context.Canceled):
		return &problem.Problem{
			Type: problem.TypeClientClosed, Status: statusClientClosed, Title: "Client closed request",
			Detail: "the client went away before the answer was ready",
		}
	case errors.Is(err, context.DeadlineExceeded):
		return &problem.Problem{
			Type: problem.TypeTimeout, Status: http.StatusGatewayTimeout, Title: "Upstream timeout",
			Detail: "the model's upstream did not answer in time",
		}
	case errors.As(err, &ue):
		return upstreamProblem(ue)
	case errors.As(err, &tm):
		return &problem.Problem{
			Type: problem.TypeTooManyRows, Status: http.StatusBadRequest, Title: "Too many rows",
			Detail: tm.Error(),
			Errors: []problem.Violation{{Pointer: "/inputs", Detail: fmt.Sprintf("at most %d rows", tm.Limit)}},
		}
	case errors.As(err, &um):
		return um.Problem()
	case errors.As(err, &uv):
		return uv.Problem()
	case errors.As(err, &ns):
		return &problem.Problem{
			Type: problem.TypeUnknownVersion, Status: http.StatusNotFound, Title: "Model version not served here",
			Detail: ns.Error(), Model: ns.Model, ModelVersion: ns.Version, Available: ns.Served,
		}
	case errors.As(err, &mbe):
		return &problem.Problem{
			Type: problem.TypeBodyTooLarge, Status: http.StatusRequestEntityTooLarge, Title: "Request body too large",
			Detail: fmt.Sprintf("the body exceeds the limit of %d bytes", mbe.Limit),
		}
	case errors.As(err, &hle):
		return validationProblem([]problem.Violation{{Pointer: "", Detail: hle.Error()}})
	default:
		return nil
	}
}

// statusClientClosed is the status logged for a client that went away.
const statusClientClosed = 499

// upstreamProblem maps an OpenAI-compatible upstream's failure. A 429 passes
// through with its Retry-After; other refusals of the request itself are
// the client's 400; a refusal of the gateway's own key or model name, a
// 5xx or no answer at all is a 502 whose detail names no upstream internals.
func upstreamProblem(ue *llm.UpstreamError) *problem.Problem {
	switch {
	case ue.Status == http.StatusTooManyRequests:
		return &problem.Problem{
			Type: problem.TypeUpstreamRateLimited, Status: http.StatusTooManyRequests, Title: "Upstream rate limited",
			Detail: "the model's upstream is over its rate limit; retry later", RetryAfter: ue.RetryAfter,
		}
	case ue.Status == http.StatusBadRequest || ue.Status == http.StatusRequestEntityTooLarge || ue.Status == http.StatusUnprocessableEntity:
		return &problem.Problem{
			Type: problem.TypeUpstream, Status: http.StatusBadRequest, Title: "Upstream refused the request",
			Detail: ue.Detail,
		}
	default:
		return &problem.Problem{
			Type: problem.TypeUpstream, Status: http.StatusBadGateway, Title: "Upstream failed",
			Detail: "the model's upstream failed; the request id identifies it in the logs",
		}
	}
}

// contextProblem answers a prompt that leaves no room for a completion;
// pointer locates the prompt ("/messages" or "/prompt") when known.
func contextProblem(pointer, detail string) *problem.Problem {
	p := &problem.Problem{
		Type: problem.TypeContextLength, Status: http.StatusBadRequest, Title: "Context length exceeded", Detail: detail,
	}
	if pointer != "" {
		p.Errors = []problem.Violation{{Pointer: pointer, Detail: detail}}
	}
	return p
}

func validationProblem(vs []problem.Violation) *problem.Problem {
	detail := fmt.Sprintf("%d violation(s): %s: %s", len(vs), vs[0].Pointer, vs[0].Detail)
	return &problem.Problem{
		Type: problem.TypeValidation, Status: http.StatusBadRequest, Title: "Request validation failed",
		Detail: detail, Errors: vs,
	}
}

func malformed(err error) *problem.Problem {
	return &problem.Problem{
		Type: problem.TypeMalformedJSON, Status: http.StatusBadRequest, Title: "Malformed JSON",
		Detail: "the body is not valid JSON: " + err.Error(),
	}
}

func notFound(r *http.Request) *problem.Problem {
	return &problem.Problem{
		Type: problem.TypeNotFound, Status: http.StatusNotFound, Title: "Not found",
		Detail: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path),
	}
}

func methodNotAllowed(r *http.Request) *problem.Problem {
	return &problem.Problem{
		Type: problem.TypeMethodNotAllowed, Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
		Detail: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path),
	}
}

// internalProblem is the answer to a failure the client cannot act on.
func internalProblem() *problem.Problem {
	return &problem.Problem{
		Type: problem.TypeInternal, Status: http.StatusInternalServerError, Title: "Internal error",
		Detail: "the server failed to process the request; the request id identifies it in the logs",
	}
}
