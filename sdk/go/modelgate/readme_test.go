package modelgate_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADME keeps the README's quick start the code ExampleClient runs.
func TestREADME(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	example, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, block)
	var body strings.Builder
	for _, line := range strings.Split(string(example), "\n") {
		body.WriteString(strings.TrimPrefix(line, "\t") + "\n")
	}
	// The example points the client at its fake gateway instead.
	quick := strings.Replace(string(block[1]), `"http://localhost:8080"`, "srv.URL", 1)
	require.Contains(t, body.String(), quick)
}
