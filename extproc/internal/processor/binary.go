package processor

import "crypto/sha256"

// Parameters of the Open Inference Protocol binary tensor data extension
// that decide whether inference answers with binary outputs.
const (
	paramBinaryData   = "binary_data"
	paramBinaryOutput = "binary_data_output"
)

// appendBinaryTail adds the binary tensor data of a request to its
// canonical JSON form, so that requests whose JSON headers are equal but
// whose tensor bytes differ never share a cache key. The tail goes in as a
// NUL byte (which canonical JSON never contains: it escapes control
// characters) and the SHA-256 of the bytes; a request without binary data
// keeps its plain canonical form.
func appendBinaryTail(canonical, tail []byte) []byte {
	if len(tail) == 0 {
		return canonical
	}
	sum := sha256.Sum256(tail)
	canonical = append(canonical, 0)
	return append(canonical, sum[:]...)
}

// asksBinaryOutput reports whether an infer request may be answered with
// binary outputs (application/octet-stream with
// inference-header-content-length): the request's binary_data_output or any
// requested output's binary_data is true. Such answers are not cached, so
// these requests bypass the cache instead of waiting on each other for an
// answer that will not be stored.
func asksBinaryOutput(doc map[string]any) bool {
	if params, _ := doc["parameters"].(map[string]any); params[paramBinaryOutput] == true {
		return true
	}
	outputs, _ := doc["outputs"].([]any)
	for _, o := range outputs {
		out, _ := o.(map[string]any)
		if params, _ := out["parameters"].(map[string]any); params[paramBinaryData] == true {
			return true
		}
	}
	return false
}
