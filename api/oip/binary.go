package oip

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/modelgate/modelgate/api/header"
)

// The binary tensor data extension of the Open Inference Protocol, which
// Triton's clients use by default: the body is a JSON head of
// inference-header-content-length bytes followed by raw little-endian tensor
// bytes, each binary tensor announcing its byte count in
// parameters.binary_data_size instead of carrying data.
const (
	// ParamBinaryDataSize is the tensor parameter with a binary tensor's
	// byte count.
	ParamBinaryDataSize = "binary_data_size"
	// ParamBinaryData is the requested-output parameter asking for (or
	// refusing) binary data for that output.
	ParamBinaryData = "binary_data"
	// ParamBinaryDataOutput is the request parameter asking for binary data
	// for every output that does not say otherwise.
	ParamBinaryDataOutput = "binary_data_output"
)

// maxExactSize is the largest byte count a JSON number decoded to float64
// still holds exactly (2^53).
const maxExactSize = 1 << 53

// ErrBinaryDataSize reports a binary_data_size parameter that is not a
// non-negative integer.
var ErrBinaryDataSize = errors.New(ParamBinaryDataSize + " must be a non-negative integer")

// HeaderLengthError reports an inference-header-content-length value that is
// not a byte count within the body.
type HeaderLengthError struct {
	Value   string
	BodyLen int
}

func (e *HeaderLengthError) Error() string {
	return fmt.Sprintf("%s %q does not fit a %d-byte body", header.InferenceHeaderContentLength, e.Value, e.BodyLen)
}

// SplitBinary splits a body of the binary extension into its JSON head of
// headerLength bytes (the inference-header-content-length value) and the
// tensor bytes after it. A length that is not a non-negative integer within
// the body is a *HeaderLengthError. head is capped so appending to it cannot
// overwrite the tail.
func SplitBinary(body []byte, headerLength string) (head, tail []byte, err error) {
	n, perr := strconv.Atoi(headerLength)
	if perr != nil || n < 0 || n > len(body) {
		return nil, nil, &HeaderLengthError{Value: headerLength, BodyLen: len(body)}
	}
	return body[:n:n], body[n:], nil
}

// BinaryDataSize reads parameters.binary_data_size from a tensor's decoded
// parameters (float64 or json.Number, as encoding/json leaves numbers); ok
// is false when the parameter is absent. 1, 1.0 and 1e3 are all integers. A
// value that is not a non-negative integer, or too large to be one exactly,
// is [ErrBinaryDataSize].
func BinaryDataSize(params map[string]any) (size int64, ok bool, err error) {
	v, ok := params[ParamBinaryDataSize]
	if !ok {
		return 0, false, nil
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		if f, err = x.Float64(); err != nil {
			return 0, true, ErrBinaryDataSize
		}
	default:
		return 0, true, ErrBinaryDataSize
	}
	if f < 0 || f != math.Trunc(f) || f > maxExactSize {
		return 0, true, ErrBinaryDataSize
	}
	return int64(f), true, nil
}
