package bootstrap_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/tools/stack"
)

// canaryCatalog has a weighted alias and a shadow version.
func canaryCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse([]byte(`
default_model: iris
models:
  iris:
    versions: ["1", "2", "3"]
    aliases: {latest: "2", stable: {"1": 90, "2": 10}}
    shadow: {version: "3", percent: 20}
  diabetes: {versions: ["1"]}
  tinyllm: {kind: llm, versions: ["1", "2"], aliases: {latest: "1"}, shadow: {version: "2", percent: 5}}
`))
	require.NoError(t, err)
	return c
}

func TestRenderADS_bootstrapsFromTheControlPlaneOnly(t *testing.T) {
	t.Parallel()
	c := loadCatalog(t)
	y, err := bootstrap.RenderADS(c, bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets(".run"),
		bootstrap.Options{}, bootstrap.Unix(".run/xds.sock"))
	require.NoError(t, err)
	b, err := bootstrap.Parse(y)
	require.NoError(t, err)
	require.Equal(t, "modelgate", b.GetNode().GetId())
	require.Equal(t, bootstrap.NodeCluster, b.GetNode().GetCluster())
	require.NotNil(t, b.GetAdmin().GetAddress())
	require.NotNil(t, b.GetOverloadManager())
	require.Empty(t, b.GetStaticResources().GetListeners())
	require.Len(t, b.GetStaticResources().GetClusters(), 1)
	xds := b.GetStaticResources().GetClusters()[0]
	require.Equal(t, bootstrap.XDSCluster, xds.GetName())
	require.Contains(t, xds.GetTypedExtensionProtocolOptions(), "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "gRPC needs HTTP/2")
	require.Equal(t, bootstrap.XDSCluster, b.GetDynamicResources().GetAdsConfig().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName())
	require.NotNil(t, b.GetDynamicResources().GetLdsConfig().GetAds())
	require.NotNil(t, b.GetDynamicResources().GetCdsConfig().GetAds())
}

func TestBuildResources_splitsTheStaticBootstrap(t *testing.T) {
	t.Parallel()
	c := canaryCatalog(t)
	a := bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets(".run")
	r, err := bootstrap.BuildResources(c, a, bootstrap.Options{})
	require.NoError(t, err)
	static, err := bootstrap.Render(c, a, bootstrap.Options{})
	require.NoError(t, err)
	sb, err := bootstrap.Parse(static)
	require.NoError(t, err)
	require.Len(t, r.Clusters, len(sb.GetStaticResources().GetClusters()), "every static cluster is served")
	require.Len(t, r.Listeners, 1)
	require.Len(t, r.Routes, 1)
	require.Equal(t, bootstrap.RouteConfigName, r.Routes[0].GetName())

	var h hcmv3.HttpConnectionManager
	require.NoError(t, r.Listeners[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&h))
	require.Equal(t, bootstrap.RouteConfigName, h.GetRds().GetRouteConfigName(), "routes come by RDS")
	require.NotNil(t, h.GetRds().GetConfigSource().GetAds())

	mirrors := map[string]*routev3.RouteAction_RequestMirrorPolicy{}
	for _, vh := range r.Routes[0].GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			for _, m := range rt.GetRoute().GetRequestMirrorPolicies() {
				mirrors[rt.GetName()] = m
			}
		}
	}
	require.Len(t, mirrors, 3, "the prediction routes of iris 1 and 2 and tinyllm 1 mirror; the shadows and diabetes do not: %v", mirrors)
	require.Equal(t, "inference_tinyllm_2", mirrors["inference_tinyllm_1"].GetCluster(), "text generation mirrors too")
	for _, name := range []string{"inference_iris_1", "inference_iris_2"} {
		m := mirrors[name]
		require.NotNil(t, m, name)
		require.Equal(t, "inference_iris_3", m.GetCluster())
		require.Equal(t, uint32(20), m.GetRuntimeFraction().GetDefaultValue().GetNumerator())
		require.Equal(t, "3", m.GetRequestHeadersMutations()[0].GetAppend().GetHeader().GetValue(), "the copy names the shadow version")
	}
}

// TestEnvoyValidate_ads runs the real Envoy's `--mode validate` on the ADS
// bootstrap and on a static bootstrap with a canary and a shadow.
func TestEnvoyValidate_ads(t *testing.T) {
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
	c := canaryCatalog(t)
	local := bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets(".run")
	ads, err := bootstrap.RenderADS(c, local, bootstrap.Options{}, bootstrap.Unix(".run/xds.sock"))
	require.NoError(t, err)
	adsTCP, err := bootstrap.RenderADS(c, bootstrap.Compose(c), bootstrap.Options{}, bootstrap.Endpoint{Host: "controlplane", Port: 18000})
	require.NoError(t, err)
	shadow, err := bootstrap.Render(c, local, bootstrap.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	for name, b := range map[string][]byte{"ads": ads, "ads-compose": adsTCP, "canary-shadow": shadow} {
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
