package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/catalog"
)

// writeProblem is the one place an error becomes an HTTP answer. Known error
// types map to their problem; anything else is a 500 whose detail never
// leaks internals (the cause is logged by the caller).
func writeProblem(w http.ResponseWriter, r *http.Request, err error, oip bool) {
	p := toProblem(err)
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

func toProblem(err error) *problem.Problem {
	var (
		p   *problem.Problem
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
		return &problem.Problem{
			Type: problem.TypeInternal, Status: http.StatusInternalServerError, Title: "Internal error",
			Detail: "the server failed to process the request; the request id identifies it in the logs",
		}
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
