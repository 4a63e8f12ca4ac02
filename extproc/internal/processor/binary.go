package processor

import (
	"crypto/sha256"
	"strconv"
	"strings"
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

// binaryHeadLength reads the inference-header-content-length of a binary
// answer: a non-negative decimal integer, else -1.
func binaryHeadLength(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return -1
	}
	return n
}
