package kube

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Istio's ingress gateway, where the modelgate chain goes.
const (
	GatewayNamespace = "istio-system"
	// GatewayLabel selects the ingress gateway's pods (key=value).
	GatewayLabelKey, GatewayLabelValue = "istio", "ingressgateway"
	// UnresolvedService has no endpoints on purpose: the Istio twin of
	// Envoy's modelgate_unresolved cluster (envoy/README.md, Routes).
	UnresolvedService = "modelgate-unresolved"
)

// ChainFilters are the HTTP filters the EnvoyFilter inserts before the
// gateway's router, in this order, copied from envoy/bootstrap's ext_authz
// chain. The key check before them is Istio's own ext_authz filter, which
// the CUSTOM AuthorizationPolicy turns on for the extproc provider.
var ChainFilters = []string{
	"modelgate.ratelimit.client", "envoy.filters.http.ext_proc",
	"modelgate.ratelimit.model", "modelgate.ratelimit.tokens",
}

// EarlyFilters go at the head of the gateway's chain, before Istio's
// ext_authz, as they come before the key check in envoy/bootstrap: the
// 431 for oversized request headers, and the token bucket that refuses a
// keyless flood before it costs a key check.
var EarlyFilters = []string{"modelgate.headers_limit", "envoy.filters.http.local_ratelimit"}

// routeFilters are the per-route filter configs the route patches carry.
var routeFilters = []string{
	"envoy.filters.http.local_ratelimit", "envoy.filters.http.ext_proc",
	"modelgate.ratelimit.model", "modelgate.ratelimit.tokens",
}

// istioData is what the deploy/istio templates use beyond [data].
type istioData struct {
	GatewayNamespace, GatewayLabelKey, GatewayLabelValue string
	Unresolved                                           string
	// Filters are the chain's HTTP filters as YAML, in [ChainFilters]
	// order, each inserted before the router.
	Filters []string
	// First are [EarlyFilters] as YAML in reverse: each is inserted first
	// in the chain, so the last inserted ends up at the head.
	First []string
	// Connection is the YAML of the connection manager fields merged into
	// the gateway's: the early removal of identity headers a client sends,
	// the local replies that make Envoy's own errors problem+json, and the
	// codec's request header limit.
	Connection string
	// Routes are the gateway's routes, named as envoy/bootstrap names
	// them, each with the Envoy-only parts of its config.
	Routes []istioRoute
	// ExtAuthzTimeout is the ext_authz timeout of the classic chain.
	ExtAuthzTimeout string
	// HeaderModel and HeaderVersion are the routing headers the plugin sets.
	HeaderModel, HeaderVersion string
}

// istioRoute is one route: the VirtualService part (match, destination,
// timeout, retries) is in the template; Patch is the YAML of the route
// fields Istio cannot express (quota descriptors, per-route filter
// configs, body buffer limits), merged in by the EnvoyFilter.
type istioRoute struct {
	Name  string
	Patch string
	// Direct is set on routes Envoy answers itself.
	Direct *directResponse
}

// directResponse is a route's fixed answer.
type directResponse struct {
	Status            uint32
	Body, ContentType string
}

// ClusterName is the name Istio gives the cluster of a Service port.
func ClusterName(service string, port int) string {
	return fmt.Sprintf("outbound|%d||%s.%s.svc.cluster.local", port, service, Namespace)
}

// istio renders envoy/bootstrap's ext_authz chain and takes from it the
// filters and the per-route configs the Istio gateway needs, so the two
// deployments cannot drift apart.
func istio(c *catalog.Catalog, p Ports) (istioData, error) {
	d := istioData{
		GatewayNamespace: GatewayNamespace, GatewayLabelKey: GatewayLabelKey, GatewayLabelValue: GatewayLabelValue,
		Unresolved: UnresolvedService, HeaderModel: header.Model, HeaderVersion: header.ModelVersion,
	}
	hcm, err := extAuthzChain(c)
	if err != nil {
		return d, err
	}
	if d.Connection, err = connectionPatch(hcm); err != nil {
		return d, err
	}
	clusters := map[string]string{
		"extproc":   ClusterName("extproc", p.ExtprocGRPC),
		"ratelimit": ClusterName("ratelimit", p.RateLimitGRPC),
	}
	byName := map[string]*hcmv3.HttpFilter{}
	for _, f := range hcm.GetHttpFilters() {
		byName[f.GetName()] = f
	}
	if d.ExtAuthzTimeout, err = extAuthzTimeout(byName["envoy.filters.http.ext_authz"]); err != nil {
		return d, err
	}
	first := slices.Clone(EarlyFilters)
	slices.Reverse(first)
	if d.First, err = filtersYAML(byName, first, clusters); err != nil {
		return d, err
	}
	if d.Filters, err = filtersYAML(byName, ChainFilters, clusters); err != nil {
		return d, err
	}
	d.Routes, err = istioRoutes(hcm)
	return d, err
}

// extAuthzChain renders envoy/bootstrap's ext_authz chain for compose's
// addresses and returns its connection manager.
func extAuthzChain(c *catalog.Catalog) (*hcmv3.HttpConnectionManager, error) {
	y, err := bootstrap.Render(c, bootstrap.Compose(c), bootstrap.Options{ExtAuthz: true})
	if err != nil {
		return nil, err
	}
	b, err := bootstrap.Parse(y)
	if err != nil {
		return nil, err
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var h hcmv3.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&h) == nil {
					return &h, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("istio: no http connection manager in the ext_authz chain")
}

// connectionPatch is the YAML of the connection manager fields the
// gateway's takes over (see [istioData.Connection]).
func connectionPatch(hcm *hcmv3.HttpConnectionManager) (string, error) {
	cm, err := anypb.New(&hcmv3.HttpConnectionManager{
		EarlyHeaderMutationExtensions: hcm.GetEarlyHeaderMutationExtensions(),
		LocalReplyConfig:              hcm.GetLocalReplyConfig(),
		// Above the headers_limit filter's 60 KiB, so it is the one
		// that answers (431) rather than the codec.
		MaxRequestHeadersKb: hcm.GetMaxRequestHeadersKb(),
	})
	if err != nil {
		return "", err
	}
	return toYAML(&listenerv3.Filter{
		Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: cm},
	}, nil)
}

// extAuthzTimeout is the ext_authz filter's gRPC timeout, as protojson
// writes a duration.
func extAuthzTimeout(f *hcmv3.HttpFilter) (string, error) {
	var v struct {
		TypedConfig struct {
			GRPCService struct {
				Timeout string `json:"timeout"`
			} `json:"grpc_service"`
		} `json:"typed_config"`
	}
	if f == nil {
		return "", fmt.Errorf("istio: the ext_authz chain has no ext_authz filter")
	}
	if err := fromProto(f, &v); err != nil {
		return "", err
	}
	return v.TypedConfig.GRPCService.Timeout, nil
}

// filtersYAML returns the named filters as YAML, their gRPC clusters
// renamed. Only the token filter may be missing: it exists only with a
// text-generation model.
func filtersYAML(byName map[string]*hcmv3.HttpFilter, names []string, clusters map[string]string) ([]string, error) {
	var out []string
	for _, name := range names {
		f, ok := byName[name]
		if !ok {
			if name == "modelgate.ratelimit.tokens" {
				continue
			}
			return nil, fmt.Errorf("istio: the ext_authz chain has no filter %s", name)
		}
		s, err := toYAML(f, clusters)
		if err != nil {
			return nil, fmt.Errorf("istio: filter %s: %w", name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// istioRoutes lists the chain's routes with their patches and fixed
// answers.
func istioRoutes(hcm *hcmv3.HttpConnectionManager) ([]istioRoute, error) {
	var out []istioRoute
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			patch, err := routePatch(r)
			if err != nil {
				return nil, fmt.Errorf("istio: route %s: %w", r.GetName(), err)
			}
			ir := istioRoute{Name: r.GetName(), Patch: patch}
			if dr := r.GetDirectResponse(); dr != nil {
				ir.Direct = &directResponse{Status: dr.GetStatus(), Body: dr.GetBody().GetInlineString()}
				for _, h := range r.GetResponseHeadersToAdd() {
					if h.GetHeader().GetKey() == "content-type" {
						ir.Direct.ContentType = h.GetHeader().GetValue()
					}
				}
			}
			out = append(out, ir)
		}
	}
	return out, nil
}

// routePatch is the part of r that the EnvoyFilter merges into the Istio
// route of the same name: quota descriptors, the plugin's and the quota
// filters' per-route configs, the body buffer limit and the idle timeout.
func routePatch(r *routev3.Route) (string, error) {
	p := &routev3.Route{RequestBodyBufferLimit: r.GetRequestBodyBufferLimit()}
	if ra := r.GetRoute(); ra != nil && (len(ra.GetRateLimits()) > 0 || ra.GetIdleTimeout() != nil) {
		p.Action = &routev3.Route_Route{Route: &routev3.RouteAction{
			RateLimits: ra.GetRateLimits(), IdleTimeout: ra.GetIdleTimeout(),
		}}
	}
	for _, name := range routeFilters {
		if a, ok := r.GetTypedPerFilterConfig()[name]; ok {
			if p.TypedPerFilterConfig == nil {
				p.TypedPerFilterConfig = map[string]*anypb.Any{}
			}
			p.TypedPerFilterConfig[name] = a
		}
	}
	if proto.Size(p) == 0 {
		return "", nil
	}
	return toYAML(p, nil)
}

// fromProto decodes m's JSON form (proto field names) into v.
func fromProto(m proto.Message, v any) error {
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, v)
}

// toYAML is m as YAML with proto field names, every envoy_grpc cluster
// renamed through clusters.
func toYAML(m proto.Message, clusters map[string]string) (string, error) {
	var v any
	if err := fromProto(m, &v); err != nil {
		return "", err
	}
	renameClusters(v, clusters)
	var sb strings.Builder
	enc := yaml.NewEncoder(&sb)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func renameClusters(v any, clusters map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		if g, ok := t["envoy_grpc"].(map[string]any); ok {
			if n, ok := g["cluster_name"].(string); ok {
				if to, ok := clusters[n]; ok {
					g["cluster_name"] = to
				}
			}
		}
		for _, e := range t {
			renameClusters(e, clusters)
		}
	case []any:
		for _, e := range t {
			renameClusters(e, clusters)
		}
	}
}

// Route returns the route of that name; templates fail on a missing one.
func (d istioData) Route(name string) (istioRoute, error) {
	for _, r := range d.Routes {
		if r.Name == name {
			return r, nil
		}
	}
	return istioRoute{}, fmt.Errorf("istio: envoy/bootstrap renders no route %q", name)
}
