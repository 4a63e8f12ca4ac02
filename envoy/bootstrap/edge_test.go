package bootstrap_test

import (
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// hcm returns the listener and its connection manager of a rendering.
func hcm(t *testing.T, o bootstrap.Options) (*listenerv3.Listener, *hcmv3.HttpConnectionManager) {
	t.Helper()
	c := loadCatalog(t)
	b, err := bootstrap.Render(c, bootstrap.Local(c, bootstrap.DefaultPorts(), "/dev/stdout").WithSockets("/run/mg"), o)
	require.NoError(t, err)
	bs, err := bootstrap.Parse(b)
	require.NoError(t, err)
	l := bs.GetStaticResources().GetListeners()[0]
	var m hcmv3.HttpConnectionManager
	require.NoError(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&m))
	return l, &m
}

// The edge bounds what one client can hold (issue: idle sockets, trickled
// bodies, HTTP/2 streams and windows, memory).
func TestRender_edgeLimits(t *testing.T) {
	t.Parallel()
	l, m := hcm(t, bootstrap.Options{})

	require.Equal(t, 5*time.Second, l.GetListenerFiltersTimeout().AsDuration(), "a connection that says nothing is closed")
	require.False(t, l.GetContinueOnListenerFiltersTimeout())
	require.Equal(t, "envoy.filters.listener.http_inspector", l.GetListenerFilters()[0].GetName())

	require.Equal(t, 15*time.Second, m.GetRequestTimeout().AsDuration(), "a trickled body is cut off")
	h2 := m.GetHttp2ProtocolOptions()
	require.Equal(t, uint32(100), h2.GetMaxConcurrentStreams().GetValue())
	require.Equal(t, uint32(65536), h2.GetInitialStreamWindowSize().GetValue())
	require.Equal(t, uint32(1<<20), h2.GetInitialConnectionWindowSize().GetValue())

	c := loadCatalog(t)
	b, err := bootstrap.Render(c, bootstrap.Compose(c), bootstrap.Options{})
	require.NoError(t, err)
	bs, err := bootstrap.Parse(b)
	require.NoError(t, err)
	var actions []string
	for _, a := range bs.GetOverloadManager().GetActions() {
		actions = append(actions, a.GetName())
	}
	require.Contains(t, actions, "envoy.overload_actions.stop_accepting_requests", "heap pressure refuses requests before an OOM kill")
}

// Routes that skip the key check drop the key headers themselves.
func TestRender_keysDroppedWhereThePluginIsBypassed(t *testing.T) {
	t.Parallel()
	_, m := hcm(t, bootstrap.Options{})
	n := 0
	for _, r := range m.GetRouteConfig().GetVirtualHosts()[0].GetRoutes() {
		var pr extprocv3.ExtProcPerRoute
		cfg, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_proc"]
		if !ok || cfg.UnmarshalTo(&pr) != nil || !pr.GetDisabled() {
			continue
		}
		n++
		require.ElementsMatch(t, []string{"x-api-key", "authorization"}, r.GetRequestHeadersToRemove(), "route %s", r.GetName())
	}
	require.Positive(t, n)
}

// In the ext_authz chain the key check and the plugin stream use separate
// clusters, so each has its own circuit breaker.
func TestRender_extAuthzHasItsOwnCluster(t *testing.T) {
	t.Parallel()
	_, m := hcm(t, bootstrap.Options{ExtAuthz: true})
	clusters := map[string]string{}
	for _, f := range m.GetHttpFilters() {
		switch f.GetName() {
		case "envoy.filters.http.ext_authz":
			var a extauthzv3.ExtAuthz
			require.NoError(t, f.GetTypedConfig().UnmarshalTo(&a))
			clusters[f.GetName()] = a.GetGrpcService().GetEnvoyGrpc().GetClusterName()
		case "envoy.filters.http.ext_proc":
			var p extprocv3.ExternalProcessor
			require.NoError(t, f.GetTypedConfig().UnmarshalTo(&p))
			clusters[f.GetName()] = p.GetGrpcService().GetEnvoyGrpc().GetClusterName()
		}
	}
	require.Len(t, clusters, 2)
	require.NotEqual(t, clusters["envoy.filters.http.ext_authz"], clusters["envoy.filters.http.ext_proc"])
}
