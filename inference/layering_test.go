// Package inference_test holds checks on the inference service as a whole.
package inference_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// domainPackages hold the service's logic; only httpapi (and app, which
// wires it) may speak HTTP.
var domainPackages = []string{"./internal/scoring", "./internal/registry", "./internal/engine", "./internal/llm", "./internal/jobs"}

// forbidden reports whether a domain package may not depend on pkg: the
// HTTP stack, Envoy's protos or gRPC.
func forbidden(pkg string) bool {
	return pkg == "net/http" || strings.HasPrefix(pkg, "net/http/") ||
		strings.HasPrefix(pkg, "github.com/envoyproxy/") ||
		pkg == "google.golang.org/grpc" || strings.HasPrefix(pkg, "google.golang.org/grpc/")
}

// deps lists every package pkg depends on, itself included, with the
// packages each imports directly.
func deps(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command runs the tests, so it is on PATH")
	out, err := exec.Command(goBin, "list", "-deps", "-json=ImportPath,Imports", pkg).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
	}
	require.NoError(t, err)
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		graph[p.ImportPath] = p.Imports
	}
	return graph
}

// TestDomainPackagesStayOffTheWire enforces the layering rule of
// style.md: the domain packages never import net/http or Envoy protos, not
// even through another package, so the async jobs worker can reuse them.
func TestDomainPackagesStayOffTheWire(t *testing.T) {
	t.Parallel()
	for _, pkg := range domainPackages {
		t.Run(strings.TrimPrefix(pkg, "./internal/"), func(t *testing.T) {
			t.Parallel()
			graph := deps(t, pkg)
			var bad []string
			for importer, imports := range graph {
				for _, imp := range imports {
					if forbidden(imp) && !forbidden(importer) {
						bad = append(bad, importer+" imports "+imp)
					}
				}
			}
			require.Empty(t, bad, "%s must not depend on HTTP, gRPC or Envoy packages", pkg)
		})
	}
	t.Run("the check sees an HTTP package", func(t *testing.T) {
		t.Parallel()
		require.Contains(t, deps(t, "./internal/httpapi"), "net/http", "otherwise the check above proves nothing")
	})
}
