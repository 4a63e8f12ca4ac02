package kube

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	istionetv1 "istio.io/api/networking/v1"
	istionetv1alpha3 "istio.io/api/networking/v1alpha3"
	istiosecv1 "istio.io/api/security/v1"
	corev1 "k8s.io/api/core/v1"

	// The filters' typed_config types, for protojson to resolve.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/http/early_header_mutation/header_mutation/v3"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

func istioSpec[T proto.Message](t *testing.T, s stack, kind, name string) T {
	t.Helper()
	o, ok := s.find(kind, name)
	if !ok {
		t.Fatalf("no %s %s", kind, name)
	}
	return o.Value.(*IstioObject).Spec.(T)
}

type validator interface{ ValidateAll() error }

// decodeEnvoy decodes an EnvoyFilter patch value into m as Envoy reads it
// (protojson refuses unknown fields) and runs its validation rules, and
// those of the filter config packed inside.
func decodeEnvoy(m proto.Message, v proto.Message) error {
	j, err := protojson.Marshal(v)
	if err != nil {
		return err
	}
	if err := protojson.Unmarshal(j, m); err != nil {
		return err
	}
	var msgs []proto.Message
	if f, ok := m.(*hcmv3.HttpFilter); ok {
		msgs = append(msgs, f)
		inner, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			return err
		}
		msgs = append(msgs, inner)
	}
	// A connection manager patch is partial too: the parts are checked.
	if f, ok := m.(*listenerv3.Filter); ok {
		var h hcmv3.HttpConnectionManager
		if err := f.GetTypedConfig().UnmarshalTo(&h); err != nil {
			return err
		}
		if h.GetLocalReplyConfig() == nil || len(h.GetEarlyHeaderMutationExtensions()) == 0 || h.GetMaxRequestHeadersKb().GetValue() <= 60 {
			return fmt.Errorf("want local replies, early header mutations and a codec header limit above headers_limit's 60 KiB")
		}
		msgs = append(msgs, h.GetLocalReplyConfig())
		for _, e := range h.GetEarlyHeaderMutationExtensions() {
			inner, err := e.GetTypedConfig().UnmarshalNew()
			if err != nil {
				return err
			}
			msgs = append(msgs, e, inner)
		}
	}
	// A route patch is a partial route (no match, no cluster: Istio's
	// route has them): its parts are checked.
	if r, ok := m.(*routev3.Route); ok {
		for _, rl := range r.GetRoute().GetRateLimits() {
			msgs = append(msgs, rl)
		}
		for name, a := range r.GetTypedPerFilterConfig() {
			inner, err := a.UnmarshalNew()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			msgs = append(msgs, inner)
		}
	}
	for _, x := range msgs {
		if v, ok := x.(validator); ok {
			if err := v.ValidateAll(); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestIstio_envoyFilter(t *testing.T) {
	t.Parallel()
	src, files := rendered(t)
	s := load(t, fileMap(files), "deploy/istio")
	ef := istioSpec[*istionetv1alpha3.EnvoyFilter](t, s, "EnvoyFilter", "modelgate")
	vs := istioSpec[*istionetv1.VirtualService](t, s, "VirtualService", "modelgate")
	routes := map[string]bool{}
	for _, r := range vs.GetHttp() {
		routes[r.GetName()] = true
	}
	services := map[string]bool{}
	for _, o := range s.byKind("Service") {
		for _, p := range o.Value.(*corev1.Service).Spec.Ports {
			services[ClusterName(o.Meta.Name, int(p.Port))] = true
		}
	}
	var order, first []string
	for i, p := range ef.GetConfigPatches() {
		switch p.GetApplyTo() {
		case istionetv1alpha3.EnvoyFilter_HTTP_FILTER:
			var f hcmv3.HttpFilter
			if err := decodeEnvoy(&f, p.GetPatch().GetValue()); err != nil {
				t.Errorf("patch %d: filter: %v", i, err)
				continue
			}
			switch p.GetPatch().GetOperation() {
			case istionetv1alpha3.EnvoyFilter_Patch_INSERT_FIRST:
				first = append([]string{f.GetName()}, first...)
			case istionetv1alpha3.EnvoyFilter_Patch_INSERT_BEFORE:
				if p.GetMatch().GetListener().GetFilterChain().GetFilter().GetSubFilter().GetName() != "envoy.filters.http.router" {
					t.Errorf("patch %d: %s must go just before the router", i, f.GetName())
				}
				order = append(order, f.GetName())
			default:
				t.Errorf("patch %d: operation %s", i, p.GetPatch().GetOperation())
			}
			// Every gRPC service the filter calls is a Service port here.
			j, _ := protojson.Marshal(p.GetPatch().GetValue())
			for _, c := range strings.Split(string(j), `"cluster_name":"`)[1:] {
				c = c[:strings.IndexByte(c, '"')]
				if !services[c] {
					t.Errorf("filter %s calls cluster %s, which no Service port gives", f.GetName(), c)
				}
			}
		case istionetv1alpha3.EnvoyFilter_NETWORK_FILTER:
			var f listenerv3.Filter
			if err := decodeEnvoy(&f, p.GetPatch().GetValue()); err != nil {
				t.Errorf("patch %d: connection manager: %v", i, err)
			}
		case istionetv1alpha3.EnvoyFilter_HTTP_ROUTE:
			var r routev3.Route
			if err := decodeEnvoy(&r, p.GetPatch().GetValue()); err != nil {
				t.Errorf("patch %d: route: %v", i, err)
			}
			if name := p.GetMatch().GetRouteConfiguration().GetVhost().GetRoute().GetName(); !routes[name] {
				t.Errorf("patch %d merges into route %q, which the VirtualService does not have", i, name)
			}
		default:
			t.Errorf("patch %d: unexpected applyTo %s", i, p.GetApplyTo())
		}
	}
	if !slices.Equal(first, EarlyFilters) {
		t.Errorf("filters at the head %v, want %v in that order", first, EarlyFilters)
	}
	if !slices.Equal(order, ChainFilters) {
		t.Errorf("filters %v, want %v in that order", order, ChainFilters)
	}
	// Every catalog version's routes are there and carry the per-model
	// quota descriptors (stage 1 in the ext_authz chain).
	for _, tg := range bootstrap.Targets(src.Catalog) {
		for _, name := range []string{tg.Cluster, tg.Cluster + "-read"} {
			if !routes[name] {
				t.Errorf("%s: the VirtualService has no route %s", tg.Serve(), name)
			}
			if !strings.Contains(string(files2(files, "deploy/istio/envoy-filter.yaml")), "route: {name: "+name+"}") {
				t.Errorf("%s: no route patch for %s", tg.Serve(), name)
			}
		}
	}
}

func files2(files []File, p string) []byte { return fileMap(files)[p] }

func TestIstio_virtualService(t *testing.T) {
	t.Parallel()
	src, files := rendered(t)
	s := load(t, fileMap(files), "deploy/istio")
	vs := istioSpec[*istionetv1.VirtualService](t, s, "VirtualService", "modelgate")
	if _, ok := s.find("Gateway", vs.GetGateways()[0]); !ok || len(vs.GetGateways()) != 1 {
		t.Errorf("gateways %v: want the one Gateway of the set", vs.GetGateways())
	}
	ports := map[string]bool{}
	for _, o := range s.byKind("Service") {
		for _, p := range o.Value.(*corev1.Service).Spec.Ports {
			ports[fmt.Sprintf("%s.%s.svc.cluster.local:%d", o.Meta.Name, Namespace, p.Port)] = true
		}
	}
	seen := map[string]string{}
	for _, r := range vs.GetHttp() {
		for _, d := range r.GetRoute() {
			key := fmt.Sprintf("%s:%d", d.GetDestination().GetHost(), d.GetDestination().GetPort().GetNumber())
			if !ports[key] {
				t.Errorf("route %s goes to %s, which is no Service port", r.GetName(), key)
			}
			seen[r.GetName()] = key
		}
	}
	// A version's route matches exactly its two headers and goes to its
	// own Service.
	for _, tg := range bootstrap.Targets(src.Catalog) {
		want := fmt.Sprintf("%s.%s.svc.cluster.local:%d", tg.Service, Namespace, DefaultPorts().Inference)
		if seen[tg.Cluster] != want {
			t.Errorf("route %s goes to %q, want %q", tg.Cluster, seen[tg.Cluster], want)
		}
		for _, r := range vs.GetHttp() {
			if r.GetName() != tg.Cluster {
				continue
			}
			h := r.GetMatch()[0].GetHeaders()
			if h["x-model"].GetExact() != tg.Model || h["x-model-version"].GetExact() != tg.Version {
				t.Errorf("route %s matches %v", tg.Cluster, h)
			}
		}
	}
}

func TestIstio_keyCheck(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	m := fileMap(files)
	s := load(t, m, "deploy/istio")
	mesh, err := DecodeMeshValues(m["deploy/istio/mesh-config.yaml"])
	if err != nil {
		t.Fatal(err)
	}
	ap := istioSpec[*istiosecv1.AuthorizationPolicy](t, s, "AuthorizationPolicy", "modelgate-api-key")
	if ap.GetAction() != istiosecv1.AuthorizationPolicy_CUSTOM {
		t.Errorf("action %s, want CUSTOM", ap.GetAction())
	}
	var found bool
	for _, p := range mesh.MeshConfig.GetExtensionProviders() {
		if p.GetName() != ap.GetProvider().GetName() {
			continue
		}
		found = true
		g := p.GetEnvoyExtAuthzGrpc()
		if g == nil || g.GetFailOpen() {
			t.Errorf("provider %s must be envoyExtAuthzGrpc and fail closed", p.GetName())
			continue
		}
		if !ports(s)[fmt.Sprintf("%s:%d", g.GetService(), g.GetPort())] {
			t.Errorf("provider %s calls %s:%d, which is no Service port", p.GetName(), g.GetService(), g.GetPort())
		}
	}
	if !found {
		t.Errorf("the AuthorizationPolicy names provider %q, which mesh-config.yaml does not define", ap.GetProvider().GetName())
	}
	// CORS preflights skip the key check and are answered from the
	// corsPolicy of every route a preflight can match (no x-model header:
	// the unresolved routes and the catalog).
	for _, r := range ap.GetRules() {
		for _, to := range r.GetTo() {
			if !slices.Contains(to.GetOperation().GetNotMethods(), "OPTIONS") {
				t.Errorf("the key check must skip OPTIONS (preflights carry no key): %v", to.GetOperation())
			}
		}
	}
	vs := istioSpec[*istionetv1.VirtualService](t, s, "VirtualService", "modelgate")
	for _, r := range vs.GetHttp() {
		switch r.GetName() {
		case "predict-unresolved", "jobs-unresolved", "catalog":
			c := r.GetCorsPolicy()
			if c == nil || !slices.Contains(c.GetAllowMethods(), "POST") || !slices.Contains(c.GetAllowHeaders(), "x-api-key") ||
				!slices.Contains(c.GetExposeHeaders(), "x-model-version") {
				t.Errorf("route %s: corsPolicy %v, want the bootstrap's", r.GetName(), c)
			}
		}
	}
	// extproc answers ext_authz under Istio, and the standalone Envoy is
	// left out.
	if _, ok := s.find("Deployment", "envoy"); ok {
		t.Error("the Istio set still deploys the standalone Envoy")
	}
	patch := decodeFile(t, m, "deploy/istio/extproc-ext-authz.yaml")
	if !strings.Contains(string(m["deploy/istio/extproc-ext-authz.yaml"]), "{name: EXTPROC_GATEWAY_MODE, value: ext_authz}") || patch[0].Meta.Name != "extproc" {
		t.Error("the Istio set must switch extproc to gateway mode ext_authz")
	}
	checkWiring(t, s)
}

func ports(s stack) map[string]bool {
	out := map[string]bool{}
	for _, o := range s.byKind("Service") {
		for _, p := range o.Value.(*corev1.Service).Spec.Ports {
			out[fmt.Sprintf("%s.%s.svc.cluster.local:%d", o.Meta.Name, Namespace, p.Port)] = true
		}
	}
	return out
}

// The VirtualService is written by hand in its template; this keeps it
// route for route, in order, what envoy/bootstrap renders, so a route
// added there fails here until the gateway has it too.
func TestIstio_routesFollowTheBootstrap(t *testing.T) {
	t.Parallel()
	src, files := rendered(t)
	hcm, err := extAuthzChain(src.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			want = append(want, r.GetName())
		}
	}
	vs := istioSpec[*istionetv1.VirtualService](t, load(t, fileMap(files), "deploy/istio"), "VirtualService", "modelgate")
	var got []string
	for _, r := range vs.GetHttp() {
		got = append(got, r.GetName())
	}
	if !slices.Equal(got, want) {
		t.Errorf("VirtualService routes\n%v\nwant envoy/bootstrap's\n%v", got, want)
	}
}
