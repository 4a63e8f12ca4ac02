package ops_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/ops"
)

// updating reports -update (the flag internal/testutil defines): rewrite
// prometheus/prometheus.compose.yml.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// promtool finds Debian's promtool (package prometheus). Without it the
// tests skip, unless MODELGATE_REQUIRE_ENVOY is set (make test and CI set
// it, after scripts/install.sh installed it), when they fail.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_ENVOY") != "" {
			t.Fatalf("promtool not on PATH: run scripts/install.sh (apt-get install prometheus): %v", err)
		}
		t.Skip("promtool not on PATH (apt-get install prometheus)")
	}
	return p
}

func TestRules_promtoolCheck(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	args := append([]string{"check", "rules"}, ops.RuleFiles("..")...)
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "SUCCESS")
}

// TestRules_promtoolTest runs the rule unit tests in prometheus/tests: the
// alerts fire on series that burn the budget and stay quiet on those that
// do not; the recording rules compute the numbers they claim.
func TestRules_promtoolTest(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	tests, err := filepath.Glob(filepath.Join("prometheus", "tests", "*.test.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	args := append([]string{"test", "rules"}, tests...)
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "FAILED")
}

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(filepath.Join("..", "models", "catalog.yaml"))
	require.NoError(t, err)
	return c
}

// TestPrometheusConfig_compose keeps prometheus.compose.yml, the config
// for compose.yaml's service names, equal to what the template renders
// (make generate rewrites it, as does go test ./ops -update).
func TestPrometheusConfig_compose(t *testing.T) {
	t.Parallel()
	b, err := ops.ComposeConfig(loadCatalog(t))
	require.NoError(t, err)
	golden := filepath.Join("prometheus", "prometheus.compose.yml")
	if updating() {
		require.NoError(t, os.WriteFile(golden, b, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(b), "run make generate (go run ./tools/envoygen)")
}

// TestPrometheusConfig_promtoolCheck checks a rendering with the real rule
// files the way make run writes it.
func TestPrometheusConfig_promtoolCheck(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	s := ops.Scrape{
		Envoy: "127.0.0.1:9901", Extproc: []string{"127.0.0.1:9001"}, RateLimit: "127.0.0.1:8083",
		Inference: []ops.Deployment{{Address: "127.0.0.1:8201", Deployment: "inference-iris-1"}},
		RuleFiles: ops.RuleFiles(root), Interval: "5s",
	}
	b, err := ops.PrometheusConfig(s)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	out, err := exec.CommandContext(t.Context(), bin, "check", "config", path).CombinedOutput()
	require.NoError(t, err, "%s\n%s", out, b)
	require.Contains(t, string(out), "SUCCESS: 2 rule files found")
}

func TestPrometheusConfig_refusesMissingTargets(t *testing.T) {
	t.Parallel()
	_, err := ops.PrometheusConfig(ops.Scrape{})
	require.ErrorContains(t, err, "Envoy address is required")
	require.ErrorContains(t, err, "extproc address is required")
	require.ErrorContains(t, err, "ratelimit address is required")
	require.ErrorContains(t, err, "inference deployment is required")
}
