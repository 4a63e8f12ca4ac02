package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/catalog"
)

// errorResponse is the one place where an error of any ext_proc phase
// becomes what the client sees: an ImmediateResponse with a problem+json
// body, the request id, the model version when known and the route's
// deprecation headers.
func (s *ExtProc) errorResponse(ctx context.Context, r *processor.Request, err error) *extprocv3.ProcessingResponse {
	// Whatever else is wrong, an authenticated request counts against its
	// quotas before it is answered, and over quota is the answer.
	if qerr := s.admission.Admit(ctx, r, nil); qerr != nil {
		err = qerr
	}
	p := problemFor(err)
	if p.Status >= 500 {
		s.logger.LogAttrs(ctx, slog.LevelError, "ext_proc request failed",
			slog.String("request_id", r.RequestID), slog.String("route", r.Match.Kind.String()),
			slog.String("error", err.Error()))
	}
	p.RequestID = r.RequestID
	if p.Model == "" {
		p.Model = r.Target.Model
	}
	if p.ModelVersion == "" {
		p.ModelVersion = r.Target.Version
	}
	r.Problem = p.Type
	details := "modelgate_" + strings.ReplaceAll(strings.TrimPrefix(p.Type, problem.TypeBase), "-", "_")
	body := p.JSON()
	switch {
	case r.IsOIP():
		body = p.WithOIPError().JSON()
	case r.IsOpenAI():
		// The OpenAI clients raise their exceptions from this object.
		body = openai.ProblemJSON(p)
	}
	return processor.Immediate(r, p.Status, header.MediaProblemJSON, body, details, errorHeaders(r, err))
}

// maxClientWait is the longest Retry-After, in seconds, that a client is
// told to wait out; past it a 429 says x-should-retry: false.
const maxClientWait = 60

// errorHeaders are the headers an error's answer carries beside the
// problem: the key challenge of a 401, the Retry-After of a 429 (and, on
// the OpenAI-compatible routes, the retry-after-ms their clients read
// first).
func errorHeaders(r *processor.Request, err error) *processor.Mutation {
	var (
		key      *processor.KeyError
		exceeded *quota.ExceededError
		method   *processor.MethodNotAllowedError
		m        processor.Mutation
	)
	switch {
	case errors.As(err, &method):
		m.Set(header.Allow, strings.Join(method.Allow, ", "))
	case errors.As(err, &key):
		if a := outcomeOf(key.Err).info().authenticate; a != "" {
			m.Set(header.WWWAuthenticate, a)
		}
	case errors.As(err, &exceeded):
		m.Set(header.RetryAfter, strconv.FormatInt(exceeded.RetryAfter(), 10))
		if r.IsOpenAI() {
			m.Set(header.RetryAfterMS, strconv.FormatInt(exceeded.RetryAfter()*1000, 10))
			if exceeded.RetryAfter() > maxClientWait {
				// A day's token quota: a client's backoff loop would
				// only spin until the window ends.
				m.Set(header.ShouldRetry, "false")
			}
		}
	default:
		return nil
	}
	return &m
}

// problemFor classifies an error. Unknown errors are internal errors whose
// text is logged, never sent.
func problemFor(err error) *problem.Problem {
	var (
		violations *policy.ViolationsError
		malformed  *policy.MalformedError
		mediaType  *policy.MediaTypeError
		tooLarge   *policy.TooLargeError
		tooMany    *policy.TooManyRowsError
		noModel    *catalog.UnknownModelError
		noVersion  *catalog.UnknownVersionError
		forbidden  *processor.ForbiddenError
		sunset     *deprecation.SunsetError
		key        *processor.KeyError
		exceeded   *quota.ExceededError
		method     *processor.MethodNotAllowedError
		prob       *problem.Problem
	)
	switch {
	case errors.As(err, &method):
		return problem.New(problem.TypeMethodNotAllowed, http.StatusMethodNotAllowed, "Method not allowed", method.Error())
	case errors.As(err, &key):
		return outcomeOf(key.Err).problem()
	case errors.As(err, &exceeded):
		if exceeded.Tokens() {
			return problem.New(problem.TypeQuotaExceeded, http.StatusTooManyRequests, "Too Many Requests",
				fmt.Sprintf("Token quota exceeded for this API key (%d tokens per %s); retry after the number of seconds in Retry-After.",
					exceeded.Limit.Requests, exceeded.Limit.Window))
		}
		return problem.New(problem.TypeQuotaExceeded, http.StatusTooManyRequests, "Too Many Requests",
			"Request quota exceeded for this API key; retry after the number of seconds in Retry-After.")
	case errors.As(err, &violations):
		n, atLeast := violations.Count()
		where := fmt.Sprintf("%d place(s)", n)
		if atLeast {
			where = fmt.Sprintf("at least %d places", n)
		}
		p := problem.New(problem.TypeValidation, http.StatusBadRequest, "Request validation failed",
			"the body violates the request schema in "+where)
		p.Errors = violations.Violations
		return p
	case errors.As(err, &malformed):
		return problem.New(problem.TypeMalformedJSON, http.StatusBadRequest, "Malformed JSON", malformed.Err.Error())
	case errors.As(err, &mediaType):
		return problem.New(problem.TypeUnsupportedMediaType, http.StatusUnsupportedMediaType, "Unsupported media type", mediaType.Error())
	case errors.As(err, &tooLarge):
		return problem.New(problem.TypeBodyTooLarge, http.StatusRequestEntityTooLarge, "Request body too large", tooLarge.Error())
	case errors.As(err, &tooMany):
		p := problem.New(problem.TypeTooManyRows, http.StatusBadRequest, "Too many rows", tooMany.Error())
		p.Errors = []problem.Violation{{Pointer: "/inputs", Detail: tooMany.Error()}}
		return p
	case errors.As(err, &noModel):
		return noModel.Problem()
	case errors.As(err, &noVersion):
		return noVersion.Problem()
	case errors.As(err, &forbidden):
		p := problem.New(problem.TypeForbidden, http.StatusForbidden, "Model not allowed", forbidden.Error())
		p.Model = forbidden.Model
		return p
	case errors.As(err, &sunset):
		p := problem.New(problem.TypeGone, http.StatusGone, "Route retired", sunset.Error())
		if sunset.Policy.Link != "" {
			p.Detail += "; see " + sunset.Policy.Link
		}
		p.Deprecation, p.Sunset = sunset.Policy.DeprecationValue(), sunset.Policy.SunsetValue()
		return p
	case errors.As(err, &prob):
		cp := *prob
		return &cp
	default:
		return problem.New(problem.TypeInternal, http.StatusInternalServerError, "Internal error",
			"the gateway could not process the request")
	}
}
