package processor

import (
	"fmt"
	"slices"
	"strings"
)

// MethodTable knows which methods the public API declares for a path: the
// OpenAPI document's paths, so that the 405 answer and the document can
// never disagree.
type MethodTable interface {
	// Allow returns the methods of a request path; declared is false for
	// a path the API does not declare (left to the upstream, which
	// answers 404).
	Allow(path string) (methods []string, declared bool)
}

// MethodNotAllowedError reports a method the path does not declare.
type MethodNotAllowedError struct {
	Method string
	// Allow lists the path's methods, for the Allow header.
	Allow []string
}

func (e *MethodNotAllowedError) Error() string {
	return fmt.Sprintf("method %s is not allowed here; allowed: %s", e.Method, strings.Join(e.Allow, ", "))
}

// checkMethod returns a *MethodNotAllowedError for a method the request's
// path does not declare, on every route the API declares, whichever
// processor serves it.
func (a *Admission) checkMethod(r *Request) error {
	if a.cfg.Methods == nil {
		return nil
	}
	allow, declared := a.cfg.Methods.Allow(r.Match.Path)
	if !declared || slices.Contains(allow, r.Method) {
		return nil
	}
	return &MethodNotAllowedError{Method: r.Method, Allow: allow}
}
