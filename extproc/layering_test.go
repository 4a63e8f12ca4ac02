package extproc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// domainPackages are extproc's domain packages: they know nothing of the
// transport, so neither Envoy's protobufs nor net/http may reach them, not
// even through a dependency (style.md 6.1).
var domainPackages = []string{"authz", "cache", "deprecation", "policy", "quota", "routing", "usage"}

// knownExceptions are dependencies a domain package has today that the
// rule forbids, each to be removed by its owner (none today).
var knownExceptions = map[string][]string{}

// forbidden tells whether a dependency is transport.
func forbidden(dep string) bool {
	return dep == "net/http" || strings.HasPrefix(dep, "github.com/envoyproxy/go-control-plane")
}

func TestDomainPackagesStayOffTheTransport(t *testing.T) {
	t.Parallel()
	goTool := goCommand(t)
	for _, pkg := range domainPackages {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(goTool, "list", "-deps", "./internal/"+pkg).Output()
			require.NoError(t, err, "go list -deps ./internal/%s", pkg)
			var bad []string
			for dep := range strings.FieldsSeq(string(out)) {
				if forbidden(dep) && !exempt(pkg, dep) {
					bad = append(bad, dep)
				}
			}
			require.Empty(t, bad, "extproc/internal/%s depends on transport packages", pkg)
		})
	}
}

func exempt(pkg, dep string) bool {
	for _, d := range knownExceptions[pkg] {
		if d == dep {
			return true
		}
	}
	return false
}

// goCommand finds the go command that runs the test.
func goCommand(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list dependencies")
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
