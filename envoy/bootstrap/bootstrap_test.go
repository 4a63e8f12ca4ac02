package bootstrap_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/tools/stack"
)

const repo = "../.."

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(filepath.Join(repo, "models", "catalog.yaml"))
	require.NoError(t, err)
	return c
}

// variants are every bootstrap the project renders.
func variants(t *testing.T, c *catalog.Catalog) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	render := func(name string, a bootstrap.Addresses, o bootstrap.Options) {
		b, err := bootstrap.Render(c, a, o)
		require.NoError(t, err, name)
		out[name] = b
	}
	tcp := bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout")
	local := tcp.WithSockets(".run")
	render("local", local, bootstrap.Options{})
	render("local-tcp", tcp, bootstrap.Options{})
	render("compose", bootstrap.Compose(c), bootstrap.Options{})
	render("local-ext-authz", local, bootstrap.Options{ExtAuthz: true})
	render("compose-ext-authz", bootstrap.Compose(c), bootstrap.Options{ExtAuthz: true})
	render("local-ext-authz-single-ratelimit-stage", local, bootstrap.Options{ExtAuthz: true, SingleRateLimitStage: true})
	render("local-no-filters", local, bootstrap.Options{NoFilters: true})
	traced := local
	traced.Tracing = &bootstrap.Endpoint{Host: "127.0.0.1", Port: 4318}
	render("local-tracing", traced, bootstrap.Options{})
	return out
}

func TestCheckedInFilesAreCurrent(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	for _, f := range bootstrap.CheckedIn(c) {
		want, err := bootstrap.Render(c, f.Addresses, bootstrap.Options{})
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(repo, f.Path))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%s is stale: run `go run ./tools/envoygen`", f.Path)
	}
}

func TestCheck_everyRenderingRoutesEveryVersion(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	for name, b := range variants(t, c) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, bootstrap.Check(b, c))
		})
	}
}

func TestCheck_findsMissingRoutesAndClusters(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	b, err := bootstrap.Render(c, bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout"), bootstrap.Options{})
	require.NoError(t, err)

	t.Run("fails when the catalog gains a version the config lacks", func(t *testing.T) {
		t.Parallel()
		bigger, err := catalog.Parse([]byte(`
default_model: iris
models:
  iris: {versions: ["1", "2", "3"], aliases: {latest: "3", stable: "1"}}
  diabetes: {versions: ["1"]}
`))
		require.NoError(t, err)
		err = bootstrap.Check(b, bigger)
		require.ErrorContains(t, err, "catalog version iris:3 has no route")
		require.ErrorContains(t, err, `catalog version iris:3 has no cluster "inference_iris_3"`)
	})
	t.Run("fails when the config routes a version the catalog dropped", func(t *testing.T) {
		t.Parallel()
		smaller, err := catalog.Parse([]byte(`
default_model: iris
models:
  iris: {versions: ["2"]}
  diabetes: {versions: ["1"]}
`))
		require.NoError(t, err)
		require.ErrorContains(t, bootstrap.Check(b, smaller), "selects iris:1, which the catalog does not have")
	})
	t.Run("fails when a route names an undefined cluster", func(t *testing.T) {
		t.Parallel()
		broken := strings.Replace(string(b), "cluster: inference_iris_2\n", "cluster: inference_iris_typo\n", 1)
		require.NotEqual(t, string(b), broken)
		err := bootstrap.Check([]byte(broken), c)
		require.ErrorContains(t, err, `names cluster "inference_iris_typo", which is not defined`)
	})
	t.Run("fails on a field Envoy does not know", func(t *testing.T) {
		t.Parallel()
		broken := strings.Replace(string(b), "stat_prefix: modelgate", "stat_prefix: modelgate\n                stat_prefx: typo", 1)
		require.ErrorContains(t, bootstrap.Check([]byte(broken), c), "stat_prefx")
	})
	t.Run("fails on a value the proto rules forbid inside a typed_config", func(t *testing.T) {
		t.Parallel()
		broken := strings.Replace(string(b), "message_timeout: 1s", "message_timeout: 7200s", 1)
		require.NotEqual(t, string(b), broken)
		require.ErrorContains(t, bootstrap.Check([]byte(broken), c), "MessageTimeout")
	})
}

func TestTargets_derivesStablePortsAndNames(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	p := bootstrap.DefaultPorts()
	var got []string
	for _, tg := range bootstrap.Targets(c) {
		got = append(got, tg.Serve()+" "+tg.Cluster+" "+tg.Service+" "+strconv.Itoa(p.Inference(tg)))
	}
	require.Equal(t, []string{
		"diabetes:1 inference_diabetes_1 inference-diabetes-1 8201",
		"iris:1 inference_iris_1 inference-iris-1 8202",
		"iris:2 inference_iris_2 inference-iris-2 8203",
		"scribe:1 inference_scribe_1 inference-scribe-1 8204",
	}, got)
	def, err := bootstrap.DefaultTarget(c)
	require.NoError(t, err)
	require.Equal(t, "iris:2", def.Serve())
}

// TestEnvoyValidate runs the real Envoy's `--mode validate` on every
// rendering. Without an Envoy binary it skips, unless MODELGATE_REQUIRE_ENVOY
// is set (CI sets it, so a missing install fails there).
func TestEnvoyValidate(t *testing.T) {
	t.Parallel()
	root, err := stack.RepoRoot(".")
	require.NoError(t, err)
	envoy, err := stack.FindEnvoy(root)
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_ENVOY") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	c := loadCatalog(t)
	dir := t.TempDir()
	all := variants(t, c)
	for name, b := range variants(t, llmCatalog(t)) {
		all["llm-"+name] = b
	}
	for name, b := range all {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, name+".yaml")
			require.NoError(t, os.WriteFile(path, b, 0o600))
			out, err := exec.CommandContext(t.Context(), envoy, "--mode", "validate", "-c", path, "-l", "warn").CombinedOutput()
			require.NoError(t, err, "envoy --mode validate %s:\n%s", name, out)
			require.Contains(t, string(out), "OK")
		})
	}
}

// llmCatalog is the committed catalog with a text-generation model added,
// so the streaming routes and the token filter are rendered and validated
// whatever models/catalog.yaml holds.
func llmCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse([]byte("default_model: iris\nmodels:\n  iris: {versions: ['1', '2']}\n  tinyllm: {kind: llm, versions: ['1']}\n"))
	require.NoError(t, err)
	return c
}

func TestRender_textGenerationRoutes(t *testing.T) {
	t.Parallel()
	c := llmCatalog(t)
	local := bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets("/run/mg")
	b, err := bootstrap.Render(c, local, bootstrap.Options{})
	require.NoError(t, err)
	y := string(b)
	require.Contains(t, y, "name: modelgate.ratelimit.tokens")
	require.Contains(t, y, `{address: {pipe: {path: "/run/mg/ratelimit.sock"}}}`, "the token filter needs the ratelimit cluster in the default chain too")
	require.Contains(t, y, "untyped: [modelgate.tokens, modelgate.response]")
	require.Contains(t, y, `hits_addend: {format: "%DYNAMIC_METADATA(modelgate.tokens:charge)%"}`)
	route := y[strings.Index(y, "- name: inference_tinyllm_1\n"):]
	route = route[:strings.Index(route, "- name: predict-unresolved")]
	require.Contains(t, route, "timeout: 0s", "a stream has no route timeout")
	require.Contains(t, route, "apply_on_stream_done: true")
	require.Equal(t, 4, strings.Count(route, "apply_on_stream_done"), "minute and day token quotas, per client and per client+model")
	require.NotContains(t, route, "modelgate.ratelimit.model", "no stage 1 filter in the default chain")

	b, err = bootstrap.Render(c, local, bootstrap.Options{ExtAuthz: true})
	require.NoError(t, err)
	y = string(b)
	route = y[strings.Index(y, "- name: inference_tinyllm_1\n"):]
	require.Contains(t, route, "modelgate.ratelimit.model:", "the ext_authz chain probes the token quotas at stage 1")
	require.Contains(t, route, "hits_addend: {number: 0}")
}

func TestRender_grpcServicesOnUnixSockets(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	local := bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout")
	b, err := bootstrap.Render(c, local.WithSockets("/run/mg"), bootstrap.Options{ExtAuthz: true})
	require.NoError(t, err)
	require.Contains(t, string(b), `{address: {pipe: {path: "/run/mg/extproc.sock"}}}`)
	require.Contains(t, string(b), `{address: {pipe: {path: "/run/mg/ratelimit.sock"}}}`)
	require.NotContains(t, string(b), "port_value: 9000", "extproc is not on TCP too")

	// The default chain without text generation: Envoy talks to the plugin
	// only (the plugin asks the ratelimit service).
	tabular, err := catalog.Parse([]byte("default_model: iris\nmodels:\n  iris: {versions: ['1', '2']}\n"))
	require.NoError(t, err)
	local = bootstrap.Local(tabular, bootstrap.DefaultPorts(), "/dev/stdout")
	b, err = bootstrap.Render(tabular, local.WithSockets("/run/mg"), bootstrap.Options{})
	require.NoError(t, err)
	require.Contains(t, string(b), `{address: {pipe: {path: "/run/mg/extproc.sock"}}}`)
	require.NotContains(t, string(b), "ratelimit.sock")
	require.NotContains(t, string(b), "envoy.filters.http.ext_authz")

	_, err = bootstrap.Render(c, bootstrap.Compose(c).WithSockets("/run/mg"), bootstrap.Options{})
	require.ErrorContains(t, err, "STATIC", "STRICT_DNS clusters cannot use pipes")
}

// A cache fill and a text generation skip the plugin's response-headers
// phase: the version routes add the headers the plugin left as dynamic
// metadata, the filter sends the status as a response attribute and keeps
// content-length.
func TestRender_leanCacheFill(t *testing.T) {
	t.Parallel()
	c := llmCatalog(t)
	for _, o := range []bootstrap.Options{{}, {ExtAuthz: true}} {
		b, err := bootstrap.Render(c, bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout"), o)
		require.NoError(t, err)
		y := string(b)
		require.Contains(t, y, `- "response.code"`)
		require.Contains(t, y, "allow_content_length_header: true")
		route := y[strings.Index(y, "- name: inference_iris_2\n"):]
		route = route[:strings.Index(route, "- name: inference_tinyllm_1-read")]
		llm := y[strings.Index(y, "- name: inference_tinyllm_1\n"):]
		llm = llm[:strings.Index(llm, "- name: predict-unresolved")]
		for _, h := range header.FromMetadata {
			want := fmt.Sprintf(`- header: {key: %s, value: "%%DYNAMIC_METADATA(modelgate.response:%s)%%"}`, h, h)
			require.Contains(t, route, want)
			require.Contains(t, llm, want, "a lean stream's headers")
		}
	}
	b, err := bootstrap.Render(c, bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout"), bootstrap.Options{NoFilters: true})
	require.NoError(t, err)
	require.NotContains(t, string(b), "modelgate.response", "the floor has no plugin")
}
