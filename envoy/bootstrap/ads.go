package bootstrap

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/modelgate/modelgate/internal/catalog"
)

// The names the ADS variant gives what the static bootstrap defines inline.
const (
	// XDSCluster is the ADS bootstrap's one static cluster: the control plane.
	XDSCluster = "modelgate_xds"
	// RouteConfigName is the route table the listener asks RDS for.
	RouteConfigName = "modelgate"
	// NodeCluster is the node cluster every Envoy of the gateway announces;
	// the control plane serves one snapshot per node cluster, so replicas
	// share it whatever their node ids.
	NodeCluster = "modelgate"
)

// Resources are what the control plane serves: the static bootstrap's
// listeners and clusters, with each listener's route table split out for
// RDS. They come from the same template and catalog as [Render], so the
// two ways of running Envoy route identically.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
}

// BuildResources renders the static bootstrap for the catalog and takes its
// dynamic parts apart.
func BuildResources(c *catalog.Catalog, a Addresses, o Options) (*Resources, error) {
	y, err := Render(c, a, o)
	if err != nil {
		return nil, err
	}
	if err := Check(y, c); err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	b, err := Parse(y)
	if err != nil {
		return nil, err
	}
	r := &Resources{Clusters: b.GetStaticResources().GetClusters()}
	for _, l := range b.GetStaticResources().GetListeners() {
		rc, err := splitRoutes(l)
		if err != nil {
			return nil, fmt.Errorf("resources: listener %s: %w", l.GetName(), err)
		}
		r.Listeners = append(r.Listeners, l)
		r.Routes = append(r.Routes, rc)
	}
	if len(r.Routes) != 1 {
		return nil, fmt.Errorf("resources: %d listeners, want one (route table %q)", len(r.Routes), RouteConfigName)
	}
	return r, nil
}

// splitRoutes moves the listener's inline route table into a
// RouteConfiguration and points the connection manager at it over ADS. A
// route change then reaches Envoy without a listener update, which would
// drain the listener's connections.
func splitRoutes(l *listenerv3.Listener) (*routev3.RouteConfiguration, error) {
	var found *routev3.RouteConfiguration
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			var h hcmv3.HttpConnectionManager
			if tc == nil || !tc.MessageIs(&h) {
				continue
			}
			if err := tc.UnmarshalTo(&h); err != nil {
				return nil, err
			}
			rc := h.GetRouteConfig()
			if rc == nil {
				return nil, errors.New("connection manager without an inline route table")
			}
			if found != nil {
				return nil, errors.New("more than one connection manager")
			}
			found = proto.Clone(rc).(*routev3.RouteConfiguration)
			found.Name = RouteConfigName
			h.RouteSpecifier = &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
				RouteConfigName: RouteConfigName,
				ConfigSource:    adsSource(),
			}}
			packed, err := anypb.New(&h)
			if err != nil {
				return nil, err
			}
			f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: packed}
		}
	}
	if found == nil {
		return nil, errors.New("no http connection manager")
	}
	return found, nil
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

// RenderADS returns the bootstrap of an Envoy that takes its listeners,
// routes and clusters from the control plane at xds over ADS. Everything
// else (node, admin, overload manager) is the static bootstrap's, rendered
// from the same template for the same catalog and addresses.
func RenderADS(c *catalog.Catalog, a Addresses, o Options, xds Endpoint) ([]byte, error) {
	y, err := Render(c, a, o)
	if err != nil {
		return nil, err
	}
	b, err := Parse(y)
	if err != nil {
		return nil, err
	}
	b.GetNode().Cluster = NodeCluster
	b.StaticResources = &bootstrapv3.Bootstrap_StaticResources{Clusters: []*clusterv3.Cluster{xdsCluster(xds, a.DNS)}}
	b.DynamicResources = &bootstrapv3.Bootstrap_DynamicResources{
		AdsConfig: &corev3.ApiConfigSource{
			ApiType:             corev3.ApiConfigSource_GRPC,
			TransportApiVersion: corev3.ApiVersion_V3,
			GrpcServices: []*corev3.GrpcService{{
				TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSCluster}},
			}},
			SetNodeOnFirstMessageOnly: true,
		},
		LdsConfig: adsSource(),
		CdsConfig: adsSource(),
	}
	if err := validateDeep(b.ProtoReflect()); err != nil {
		return nil, fmt.Errorf("render ads: %w", err)
	}
	return toYAML(b)
}

// xdsCluster is the control plane's cluster: gRPC, so HTTP/2.
func xdsCluster(xds Endpoint, dns bool) *clusterv3.Cluster {
	addr := &corev3.Address{}
	if xds.Path != "" {
		addr.Address = &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: xds.Path}}
	} else {
		addr.Address = &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: xds.Host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(xds.Port)},
		}}
	}
	typ := clusterv3.Cluster_STATIC
	if dns && xds.Path == "" {
		typ = clusterv3.Cluster_STRICT_DNS
	}
	h2, _ := anypb.New(&upstreamhttpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	})
	return &clusterv3.Cluster{
		Name:                 XDSCluster,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: typ},
		ConnectTimeout:       durationpb.New(time.Second),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2,
		},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: XDSCluster,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}},
			}}}},
		},
	}
}

// toYAML writes a bootstrap as YAML with a header saying where it came
// from (protojson, then YAML for reading).
func toYAML(b *bootstrapv3.Bootstrap) ([]byte, error) {
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("render ads: %w", err)
	}
	// JSON is YAML: reading it into nodes keeps every scalar's type (a
	// uint64 stays the string protojson wrote), and clearing the flow
	// style writes it as block YAML.
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, fmt.Errorf("render ads: %w", err)
	}
	plainStyle(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("render ads: %w", err)
	}
	y := buf.Bytes()
	head := "# GENERATED by envoy/bootstrap (RenderADS): the static bootstrap's node, admin\n" +
		"# and overload manager; everything else comes from the control plane\n" +
		"# (controlplane/) over ADS.\n"
	return append([]byte(head), y...), nil
}

// plainStyle drops JSON's flow and quoting styles; the encoder still
// quotes a string that would otherwise read as another type.
func plainStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plainStyle(c)
	}
}
