package processor

import (
	"strconv"
	"strings"
)

// binaryHeadLength reads the inference-header-content-length of a binary
// answer: a non-negative decimal integer, else -1.
func binaryHeadLength(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return -1
	}
	return n
}
