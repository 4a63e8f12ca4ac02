package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/inference/internal/scoring"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/logging"
)

// writeProblem is the one place an error becomes an HTTP answer. Known error
// types map to their problem; anything else is a 500 whose detail never
// leaks internals, and whose cause is logged here. oip adds the Open
// Inference Protocol's error member.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error, oip bool) {
	p := toProblem(err)
	if p == nil {
		logging.FromContext(r.Context(), s.log).Error("request failed", slog.String("error", err.Error()))
		p = internalProblem()
	}
	info := infoFrom(r.Context())
	if info != nil {
		p.RequestID = info.id
		info.problemType = p.Type
	}
	if oip {
		p.WithOIPError()
	}
	w.Header().Set(header.ContentType, header.MediaProblemJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.RetryAfter > 0 {
		w.Header().Set(header.RetryAfter, fmt.Sprint(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(p.JSON())
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
	)
	switch {
	case errors.As(err, &p):
		cp := *p
		return &cp
	case errors.As(err, &ve):
		return validationProblem(ve.Violations)
	case errors.As(err, &tm):
		return &problem.Problem{
			Type: problem.TypeTooManyRows, Status: http.StatusBadRequest, Title: "Too many rows",
			Detail: tm.Error(),
			Errors: []problem.Violation{{Pointer: "/inputs", Detail: fmt.Sprintf("at most %d rows", tm.Limit)}},
		}
	case errors.As(err, &um):
		return &problem.Problem{
			Type: problem.TypeUnknownModel, Status: http.StatusNotFound, Title: "Unknown model",
			Detail: um.Error(), Model: um.Model, Available: um.Available,
		}
	case errors.As(err, &uv):
		return &problem.Problem{
			Type: problem.TypeUnknownVersion, Status: http.StatusNotFound, Title: "Unknown model version",
			Detail: uv.Error(), Model: uv.Model, ModelVersion: uv.Version, Available: uv.Available,
		}
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
