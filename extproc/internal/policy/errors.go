package policy

import (
	"fmt"

	"github.com/modelgate/modelgate/api/problem"
)

// MalformedError reports a body that is not one well-formed JSON value.
type MalformedError struct{ Err error }

func (e *MalformedError) Error() string { return "malformed json: " + e.Err.Error() }

// Unwrap returns the decoder error.
func (e *MalformedError) Unwrap() error { return e.Err }

// ViolationsError lists the violations of a body, each located by a JSON
// Pointer. Lists built by this package are capped (see [MaxViolations]);
// a cut list ends in a note violation, at pointer "", that counts the
// violations it leaves out.
type ViolationsError struct{ Violations []problem.Violation }

func (e *ViolationsError) Error() string {
	return "body violates the schema in " + describeCount(e.Count())
}

// Count returns how many violations the list stands for: those listed
// and those its note counts, a lower bound when atLeast (checking
// stopped early). len(Violations) counts the note as one.
func (e *ViolationsError) Count() (n int, atLeast bool) { return countViolations(e.Violations) }

// MediaTypeError reports a content type other than JSON.
type MediaTypeError struct{ Got string }

func (e *MediaTypeError) Error() string {
	if e.Got == "" {
		return "content-type is missing; send application/json"
	}
	return fmt.Sprintf("content-type %q is not supported; send application/json", e.Got)
}

// TooLargeError reports a body over the configured byte limit.
type TooLargeError struct{ Size, Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// TooManyRowsError reports a batch over the configured row limit.
type TooManyRowsError struct{ Rows, Limit int }

func (e *TooManyRowsError) Error() string {
	return fmt.Sprintf("%d rows exceed the limit of %d rows per request", e.Rows, e.Limit)
}
