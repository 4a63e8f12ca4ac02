package modelgate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/modelgate/modelgate/api/problem"
)

// APIError is a 4xx or 5xx answer. Type is the problem type URI (compare it
// with the api/problem constants or use the Is* helpers); Problem is the
// whole RFC 9457 body.
type APIError struct {
	StatusCode int
	Type       string
	Problem    problem.Problem
	// RequestID comes from x-request-id, else the problem's request_id.
	RequestID string
	// RetryAfter is the server's wait (retry-after-ms, Retry-After or the
	// problem's retry_after), zero when it gave none.
	RetryAfter time.Duration
	Header     http.Header
}

func newAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Header: resp.Header}
	// The OpenAI routes put an object in "error"; decode what fits and
	// ignore the rest rather than fail.
	var p problem.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		var loose struct {
			Type   string              `json:"type"`
			Title  string              `json:"title"`
			Status int                 `json:"status"`
			Detail string              `json:"detail"`
			Errors []problem.Violation `json:"errors"`
			ReqID  string              `json:"request_id"`
		}
		if json.Unmarshal(body, &loose) == nil {
			p = problem.Problem{Type: loose.Type, Title: loose.Title, Status: loose.Status, Detail: loose.Detail,
				Errors: loose.Errors, RequestID: loose.ReqID}
		}
	}
	e.Problem = p
	e.Type = p.Type
	if e.Type == "" {
		e.Type = "about:blank"
	}
	e.RequestID = resp.Header.Get("x-request-id")
	if e.RequestID == "" {
		e.RequestID = p.RequestID
	}
	if d, ok := retryAfter(resp.Header); ok {
		e.RetryAfter = d
	} else if p.RetryAfter > 0 {
		e.RetryAfter = time.Duration(p.RetryAfter) * time.Second
	}
	return e
}

// Error implements error.
func (e *APIError) Error() string {
	msg := e.Problem.Title
	if e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.RequestID != "" {
		return fmt.Sprintf("modelgate: %d %s (request %s)", e.StatusCode, msg, e.RequestID)
	}
	return fmt.Sprintf("modelgate: %d %s", e.StatusCode, msg)
}

// Violations lists every validation failure of a validation-failed problem.
func (e *APIError) Violations() []problem.Violation { return e.Problem.Errors }

// ConnectionError is a failure to reach the gateway or to read its answer.
type ConnectionError struct {
	Timeout bool
	Err     error
}

// Error implements error.
func (e *ConnectionError) Error() string {
	if e.Timeout {
		return "modelgate: request timed out: " + e.Err.Error()
	}
	return "modelgate: connection error: " + e.Err.Error()
}

// Unwrap returns the transport's error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// StreamError is an error event inside a stream that had begun; Error holds
// the OpenAI error object.
type StreamError struct {
	Message, Type, Code string
	RequestID           string
}

// Error implements error.
func (e *StreamError) Error() string { return "modelgate: stream failed: " + e.Message }

func asAPI(err error) *APIError {
	var e *APIError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func hasType(err error, types ...string) bool {
	e := asAPI(err)
	if e == nil {
		return false
	}
	for _, t := range types {
		if e.Type == t {
			return true
		}
	}
	return false
}

func hasStatus(err error, s int) bool { e := asAPI(err); return e != nil && e.StatusCode == s }

// IsAuthentication reports a missing, unknown, revoked or expired key (401).
func IsAuthentication(err error) bool { return hasStatus(err, 401) }

// IsPermissionDenied reports a key that may not use the model or route (403).
func IsPermissionDenied(err error) bool { return hasStatus(err, 403) }

// IsNotFound reports a 404: unknown model, version, job or route.
func IsNotFound(err error) bool { return hasStatus(err, 404) }

// IsValidation reports a body that broke the schema; see [APIError.Violations].
func IsValidation(err error) bool { return hasType(err, problem.TypeValidation) }

// IsRateLimited reports a 429; see [APIError.RetryAfter].
func IsRateLimited(err error) bool { return hasStatus(err, 429) }

// IsServer reports a 5xx.
func IsServer(err error) bool { e := asAPI(err); return e != nil && e.StatusCode >= 500 }
