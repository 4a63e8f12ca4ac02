package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	// Every type named by an "@type" in the template must be linked in for
	// protojson to resolve it.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/http/early_header_mutation/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Parse decodes a bootstrap YAML the way Envoy reads static config (unknown
// fields are errors) and runs the proto validation rules on every message,
// including those packed in typed_config Anys, which PGV alone skips.
func Parse(y []byte) (*bootstrapv3.Bootstrap, error) {
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, fmt.Errorf("parse bootstrap: yaml: %w", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("parse bootstrap: to json: %w", err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(j, &b); err != nil {
		return nil, fmt.Errorf("parse bootstrap: %w", err)
	}
	if err := validateDeep(b.ProtoReflect()); err != nil {
		return nil, fmt.Errorf("parse bootstrap: %w", err)
	}
	return &b, nil
}

type validator interface{ ValidateAll() error }

// validateDeep calls ValidateAll on m and on every message packed in an Any
// below it: PGV does not look inside Anys.
func validateDeep(m protoreflect.Message) error {
	var errs []error
	if v, ok := m.Interface().(validator); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, err)
		}
	}
	walk(m, func(inner proto.Message, typeURL string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", typeURL, err))
			return
		}
		if v, ok := inner.(validator); ok {
			if err := v.ValidateAll(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", typeURL, err))
			}
		}
	}, nil)
	return errors.Join(errs...)
}

// Check parses a rendered bootstrap and verifies what Envoy's own
// validation cannot know: every catalog version has its routes to its own
// cluster, every route and gRPC service names a defined cluster, the gRPC
// clusters speak HTTP/2, no cluster is unused, and the router is the last
// filter. All problems are reported at once.
func Check(y []byte, c *catalog.Catalog) error {
	b, err := Parse(y)
	if err != nil {
		return err
	}
	var errs []error
	clusters := map[string]*clusterv3.Cluster{}
	for _, cl := range b.GetStaticResources().GetClusters() {
		clusters[cl.GetName()] = cl
	}
	used := map[string]bool{}

	// gRPC services (ext_authz, ext_proc, ratelimit) anywhere in the config.
	forEach(b.ProtoReflect(), func(m proto.Message) {
		// HTTP services (the OTLP trace collector) name their cluster too.
		if u, ok := m.(*corev3.HttpUri); ok {
			if _, defined := clusters[u.GetCluster()]; !defined {
				errs = append(errs, fmt.Errorf("http service names cluster %q, which is not defined", u.GetCluster()))
			}
			used[u.GetCluster()] = true
			return
		}
		g, ok := m.(*corev3.GrpcService_EnvoyGrpc)
		if !ok {
			return
		}
		name := g.GetClusterName()
		used[name] = true
		cl, ok := clusters[name]
		if !ok {
			errs = append(errs, fmt.Errorf("grpc service names cluster %q, which is not defined", name))
			return
		}
		if !isHTTP2(cl) {
			errs = append(errs, fmt.Errorf("cluster %q serves gRPC but is not HTTP/2", name))
		}
	})

	var hcms []*hcmv3.HttpConnectionManager
	forEach(b.ProtoReflect(), func(m proto.Message) {
		if h, ok := m.(*hcmv3.HttpConnectionManager); ok {
			hcms = append(hcms, h)
		}
	})
	if len(hcms) == 0 {
		errs = append(errs, errors.New("no http connection manager"))
	}
	// Routes that select a model version: route name -> (model, version).
	type mv struct{ model, version string }
	covered := map[mv][]string{}
	for _, h := range hcms {
		fs := h.GetHttpFilters()
		if len(fs) == 0 || fs[len(fs)-1].GetTypedConfig().GetTypeUrl() != "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" {
			errs = append(errs, errors.New("the router is not the last http filter"))
		}
		for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				ra := r.GetRoute()
				if ra == nil {
					continue
				}
				cl := ra.GetCluster()
				if cl == "" {
					if ra.GetClusterHeader() == "" {
						errs = append(errs, fmt.Errorf("route %q has no cluster", r.GetName()))
					}
					continue
				}
				used[cl] = true
				if _, ok := clusters[cl]; !ok {
					errs = append(errs, fmt.Errorf("route %q names cluster %q, which is not defined", r.GetName(), cl))
				}
				model, version := exactHeader(r.GetMatch(), header.Model), exactHeader(r.GetMatch(), header.ModelVersion)
				if model == "" && version == "" {
					continue
				}
				if m, ok := c.Models[model]; !ok || !m.HasVersion(version) {
					errs = append(errs, fmt.Errorf("route %q selects %s:%s, which the catalog does not have", r.GetName(), model, version))
					continue
				}
				want := ""
				for _, t := range Targets(c) {
					if t.Model == model && t.Version == version {
						want = t.Cluster
					}
				}
				if cl != want {
					errs = append(errs, fmt.Errorf("route %q selects %s:%s but goes to cluster %q, want %q", r.GetName(), model, version, cl, want))
				}
				covered[mv{model, version}] = append(covered[mv{model, version}], r.GetName())
			}
		}
	}
	for _, t := range Targets(c) {
		if len(covered[mv{t.Model, t.Version}]) == 0 {
			errs = append(errs, fmt.Errorf("catalog version %s has no route", t.Serve()))
		}
		if _, ok := clusters[t.Cluster]; !ok {
			errs = append(errs, fmt.Errorf("catalog version %s has no cluster %q", t.Serve(), t.Cluster))
		}
	}
	names := make([]string, 0, len(clusters))
	for n := range clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !used[n] {
			errs = append(errs, fmt.Errorf("cluster %q is not used by any route or service", n))
		}
	}
	return errors.Join(errs...)
}

// forEach calls fn on every message below m, looking inside Anys.
func forEach(m protoreflect.Message, fn func(proto.Message)) {
	walk(m, nil, fn)
}

// walk visits every message below m. Each Any is unpacked and reported to
// onAny (with the unpack error, if any), then visited; onMsg sees every
// message including m.
func walk(m protoreflect.Message, onAny func(inner proto.Message, typeURL string, err error), onMsg func(proto.Message)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if onAny != nil {
			onAny(inner, a.GetTypeUrl(), err)
		}
		if err == nil {
			walk(inner.ProtoReflect(), onAny, onMsg)
		}
		return
	}
	if onMsg != nil {
		onMsg(m.Interface())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walk(v.List().Get(i).Message(), onAny, onMsg)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), onAny, onMsg)
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			walk(v.Message(), onAny, onMsg)
		}
		return true
	})
}

func exactHeader(m *routev3.RouteMatch, name string) string {
	for _, h := range m.GetHeaders() {
		if h.GetName() == name {
			return h.GetStringMatch().GetExact()
		}
	}
	return ""
}

func isHTTP2(cl *clusterv3.Cluster) bool {
	a, ok := cl.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok {
		return false
	}
	var o upstreamhttpv3.HttpProtocolOptions
	if err := a.UnmarshalTo(&o); err != nil {
		return false
	}
	return o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}
