package testutil

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// update rewrites golden text instead of comparing with it:
// go test ./... -update.
var update = flag.Bool("update", false, "rewrite golden text (README blocks) from the code")

// RequireBlock checks that the file at path holds want between the lines
// "<!-- BEGIN name -->" and "<!-- END name -->", a block of a README that
// the code generates. With -update it writes want there instead.
func RequireBlock(t testing.TB, path, name, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	begin, end := "<!-- BEGIN "+name+" -->\n", "<!-- END "+name+" -->"
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	require.True(t, i >= 0 && j > i, "%s has no block %q: add the lines %q and %q", path, name, strings.TrimSpace(begin), end)
	got := text[i+len(begin) : j]
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(text[:i+len(begin)]+want+text[j:]), 0o644))
		return
	}
	require.Equal(t, want, got, "%s is out of date: go test -run %s -update", path, t.Name())
}
