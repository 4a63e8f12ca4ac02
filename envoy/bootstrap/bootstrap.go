// Package bootstrap renders modelgate's Envoy bootstrap from the model
// catalog and one template (envoy.yaml.tmpl beside this file).
//
// The route table is derived from the catalog: one route and one cluster per
// model version, so adding a version to models/catalog.yaml and regenerating
// is the whole change. The local stack, the end-to-end tests and
// compose.yaml render the same template and differ only in [Addresses].
package bootstrap

import (
	"bytes"
	_ "embed"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/internal/catalog"
)

//go:embed envoy.yaml.tmpl
var tmplText string

// Endpoint is a host and port, or a unix socket. Host may be an IP literal
// or a DNS name.
type Endpoint struct {
	Host string
	Port int
	// Path, when set, is a unix domain socket and Host and Port are unused.
	Path string
}

// Unix returns the endpoint of a unix domain socket.
func Unix(path string) Endpoint { return Endpoint{Path: path} }

// String returns host:port, or unix:path for a socket.
func (e Endpoint) String() string {
	if e.Path != "" {
		return "unix:" + e.Path
	}
	return fmt.Sprintf("%s:%d", e.Host, e.Port)
}

// Address is the endpoint as an Envoy core.v3.Address in YAML flow style.
func (e Endpoint) Address() string {
	if e.Path != "" {
		return fmt.Sprintf("{pipe: {path: %q}}", e.Path)
	}
	return fmt.Sprintf("{socket_address: {address: %s, port_value: %d}}", e.Host, e.Port)
}

// Target is one model version and the cluster that serves it.
type Target struct {
	Model   string
	Version string
	// Cluster is the Envoy cluster name, inference_<model>_<version>.
	Cluster string
	// Service is a DNS-friendly name, inference-<model>-<version>, used for
	// compose services.
	Service string
	// Index is the target's position in [Targets] order; local ports are
	// derived from it.
	Index int
	// LLM is true for a text-generation version: its route streams (no
	// route timeout) and charges token quotas when the stream ends.
	LLM bool
}

// Serve is the inference --serve value for the target.
func (t Target) Serve() string { return t.Model + ":" + t.Version }

// Targets lists every model version in the catalog, sorted by model then in
// catalog version order. The order is stable, so derived ports are too.
func Targets(c *catalog.Catalog) []Target {
	var out []Target
	for _, name := range c.ModelNames() {
		for _, v := range c.Models[name].Versions {
			out = append(out, Target{
				Model:   name,
				Version: v,
				Cluster: "inference_" + sanitize(name, '_') + "_" + sanitize(v, '_'),
				Service: "inference-" + sanitize(name, '-') + "-" + sanitize(v, '-'),
				Index:   len(out),
				LLM:     c.Models[name].IsLLM(),
			})
		}
	}
	return out
}

func sanitize(s string, sep rune) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' {
			return sep
		}
		return r
	}, s)
}

// DefaultTarget is the version that the gateway's catalog-level routes (such
// as GET /v2/models and the OIP server health checks) go to: the catalog's
// default model at its latest alias.
func DefaultTarget(c *catalog.Catalog) (Target, error) {
	v, err := c.Resolve(c.DefaultModel, catalog.DefaultAlias)
	if err != nil {
		return Target{}, fmt.Errorf("default target: %w", err)
	}
	for _, t := range Targets(c) {
		if t.Model == c.DefaultModel && t.Version == v {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("default target: %s:%s not in targets", c.DefaultModel, v)
}

// Addresses says where everything listens. It is the only thing that
// differs between the local stack and compose.
type Addresses struct {
	// Listen is the client-facing HTTP listener.
	Listen Endpoint
	// Admin is Envoy's admin interface.
	Admin Endpoint
	// Extproc is the plugin's gRPC address (ext_authz and ext_proc). The
	// local stack uses a unix socket (see [Addresses.WithSockets]).
	Extproc Endpoint
	// RateLimit is the ratelimit service's gRPC address (unix socket locally).
	RateLimit Endpoint
	// Inference maps Target.Serve() to where that version is served.
	Inference map[string]Endpoint
	// DNS makes clusters resolve names (STRICT_DNS); false means every host
	// is an IP literal (STATIC).
	DNS bool
	// AccessLog is the access log file path ("/dev/stdout" in containers).
	AccessLog string
	// Tracing, when set, is an OTLP/HTTP collector: Envoy traces every
	// request and sends W3C traceparent to extproc and the model servers.
	Tracing *Endpoint
}

// Options change the filter chain for measurements. The zero value is the
// production chain.
type Options struct {
	// NoFilters renders a bare proxy: router only, no plugin, no quotas.
	// It exists to measure the floor in make bench.
	NoFilters bool
	// SingleRateLimitStage drops ratelimit stage 1 (client + model). It
	// exists to measure what the second ratelimit call costs.
	SingleRateLimitStage bool
	// ExtAuthz renders the classic chain: the key check in Envoy's ext_authz
	// filter and quotas in two Envoy ratelimit filter stages, for meshes
	// that already run an ext_authz provider. The zero value checks keys
	// and quotas inside the plugin's ext_proc stream (envoy/README.md).
	ExtAuthz bool
}

// Local returns the addresses of the local stack for the given ports.
func Local(c *catalog.Catalog, p Ports, accessLog string) Addresses {
	a := Addresses{
		Listen:    Endpoint{Host: "127.0.0.1", Port: p.Envoy},
		Admin:     Endpoint{Host: "127.0.0.1", Port: p.EnvoyAdmin},
		Extproc:   Endpoint{Host: "127.0.0.1", Port: p.ExtprocGRPC},
		RateLimit: Endpoint{Host: "127.0.0.1", Port: p.RateLimitGRPC},
		Inference: map[string]Endpoint{},
		AccessLog: accessLog,
	}
	for _, t := range Targets(c) {
		a.Inference[t.Serve()] = Endpoint{Host: "127.0.0.1", Port: p.Inference(t)}
	}
	return a
}

// Socket file names of the gRPC services, in the directory given to
// [Addresses.WithSockets].
const (
	ExtprocSocket   = "extproc.sock"
	RateLimitSocket = "ratelimit.sock"
)

// WithSockets returns a with Envoy reaching extproc and ratelimit over unix
// domain sockets in dir instead of loopback TCP. Each of Envoy's ~7 gRPC
// round trips per cache miss then skips the TCP/IP stack (envoy/README.md,
// Latency). Only for processes on one host; compose keeps TCP.
func (a Addresses) WithSockets(dir string) Addresses {
	a.Extproc = Unix(filepath.Join(dir, ExtprocSocket))
	a.RateLimit = Unix(filepath.Join(dir, RateLimitSocket))
	return a
}

// ComposePort is the port every container listens on inside compose.
const (
	ComposeEnvoyPort      = 8080
	ComposeEnvoyAdminPort = 9901
	ComposeExtprocGRPC    = 9000
	ComposeRateLimitGRPC  = 8081
	ComposeInferencePort  = 8201
)

// Compose returns the addresses inside the compose network: services by
// name, every inference container on the same port.
func Compose(c *catalog.Catalog) Addresses {
	a := Addresses{
		Listen: Endpoint{Host: "0.0.0.0", Port: ComposeEnvoyPort},
		// Admin stays inside the container (docker compose exec envoy ...):
		// no other container and no host port reaches it.
		Admin:     Endpoint{Host: "127.0.0.1", Port: ComposeEnvoyAdminPort},
		Extproc:   Endpoint{Host: "extproc", Port: ComposeExtprocGRPC},
		RateLimit: Endpoint{Host: "ratelimit", Port: ComposeRateLimitGRPC},
		Inference: map[string]Endpoint{},
		DNS:       true,
		AccessLog: "/dev/stdout",
	}
	for _, t := range Targets(c) {
		a.Inference[t.Serve()] = Endpoint{Host: t.Service, Port: ComposeInferencePort}
	}
	return a
}

// Ports are the local stack's ports. Zero values are not allowed; use
// [DefaultPorts] and change what clashes.
type Ports struct {
	Envoy, EnvoyAdmin                            int
	ExtprocGRPC, ExtprocAdmin                    int
	RateLimitGRPC, RateLimitHTTP, RateLimitDebug int
	// RateLimitMetrics serves the ratelimit service's Prometheus metrics.
	RateLimitMetrics int
	// InferenceBase is the port of the first target; target i listens on
	// InferenceBase+i.
	InferenceBase int
}

// DefaultPorts are the documented ports of `make run`.
func DefaultPorts() Ports {
	return Ports{
		Envoy: 8080, EnvoyAdmin: 9901,
		ExtprocGRPC: 9000, ExtprocAdmin: 9001,
		RateLimitGRPC: 8081, RateLimitHTTP: 8082, RateLimitDebug: 6070, RateLimitMetrics: 8083,
		InferenceBase: 8201,
	}
}

// Inference returns the local port of a target.
func (p Ports) Inference(t Target) int { return p.InferenceBase + t.Index }

// route is one catalog route in the template.
type route struct {
	Target
	Endpoint Endpoint
	// Shadow is where a share of this version's traffic is mirrored, or nil.
	Shadow *mirror
}

// mirror is a route's shadow: the version and cluster that get a copy of
// Percent of its requests.
type mirror struct {
	Model, Version, Cluster, Header string
	Percent                         int
}

// shadowOf returns the mirror of target t's route, or nil.
func shadowOf(c *catalog.Catalog, targets []Target, t Target) *mirror {
	s, ok := c.Models[t.Model].ShadowOf(t.Version)
	if !ok {
		return nil
	}
	for _, st := range targets {
		if st.Model == t.Model && st.Version == s.Version {
			return &mirror{Model: t.Model, Version: s.Version, Cluster: st.Cluster, Header: header.ModelVersion, Percent: s.Percent}
		}
	}
	return nil
}

type data struct {
	Addresses
	Options
	Routes      []route
	Default     Target
	Header      headers
	Domain      string
	Problem     problems
	ClusterType string
	// Unresolved is the endpoint-less cluster of route predict-unresolved.
	Unresolved string
	// QueryAllow are the API's paths by Allow value, for QUERY requests
	// Envoy answers itself.
	QueryAllow []allowGroup
	// TokensNamespace and TokensCharge name the dynamic metadata the
	// plugin leaves with the tokens to charge when a stream ends;
	// TokenQuotas are the descriptors charged.
	TokensNamespace, TokensCharge string
	TokenQuotas                   []tokenQuota
	// MetadataNamespace, FromMetadata and ResponseAttributes are how the
	// plugin answers a cache fill without seeing its response headers
	// (api/header's metadata.go).
	MetadataNamespace  string
	FromMetadata       []string
	ResponseAttributes []header.Attribute
	// HasLLM is true when some version generates text.
	HasLLM bool
	// JobsMaxBodyBytes is the largest POST /v2/jobs body Envoy buffers
	// for the plugin (its EXTPROC_JOBS_MAX_BODY_BYTES default).
	JobsMaxBodyBytes int64
}

// tokenQuota is one token descriptor charged at stream end: per client,
// or per client and model.
type tokenQuota struct {
	Name     string
	PerModel bool
}

type problems struct {
	QuotaExceeded, Unavailable, Timeout, NotFound, BodyTooLarge, HeadersTooLarge, Internal string
	MethodNotAllowed, Validation                                                           string
}

type headers struct {
	Model, ModelVersion, Client, Tier, KeyID, RequestID, Cache, APIKey, Session string
}

// JobsMaxBodyBytes is the largest job body Envoy buffers, 16 MiB: about
// 170,000 rows of four features.
const JobsMaxBodyBytes = 16 << 20

// Render returns the bootstrap YAML for the catalog at the addresses.
func Render(c *catalog.Catalog, a Addresses, o Options) ([]byte, error) {
	def, err := DefaultTarget(c)
	if err != nil {
		return nil, err
	}
	d := data{
		Addresses: a,
		Options:   o,
		Default:   def,
		Domain:    "modelgate",
		Problem: problems{
			QuotaExceeded: problem.TypeQuotaExceeded, Unavailable: problem.TypeUnavailable,
			Timeout: problem.TypeTimeout, NotFound: problem.TypeNotFound,
			BodyTooLarge: problem.TypeBodyTooLarge, HeadersTooLarge: problem.TypeHeadersTooLarge, Internal: problem.TypeInternal,
			MethodNotAllowed: problem.TypeMethodNotAllowed, Validation: problem.TypeValidation,
		},
		ClusterType: "STATIC",
		Unresolved:  "modelgate_unresolved",
		// The plugin's names (extproc's processor.TokensNamespace,
		// TokensCharge and quota.TokenQuotas, which this package cannot
		// import); the e2e token test fails when they drift apart.
		TokensNamespace: "modelgate.tokens",
		TokensCharge:    "charge",
		TokenQuotas: []tokenQuota{{"tokens_minute", false}, {"tokens_day", false},
			{"model_tokens_minute", true}, {"model_tokens_day", true}},
		JobsMaxBodyBytes:  JobsMaxBodyBytes,
		MetadataNamespace: header.MetadataNamespace, FromMetadata: header.FromMetadata,
		ResponseAttributes: header.ResponseAttributes,
		Header: headers{
			Model: header.Model, ModelVersion: header.ModelVersion,
			Client: header.Client, Tier: header.Tier, KeyID: header.KeyID,
			RequestID: header.RequestID, Cache: header.Cache, APIKey: header.APIKey, Session: header.Session,
		},
	}
	if d.QueryAllow, err = queryAllowGroups(); err != nil {
		return nil, err
	}
	if a.DNS {
		d.ClusterType = "STRICT_DNS"
		if a.Extproc.Path != "" || a.RateLimit.Path != "" {
			return nil, fmt.Errorf("render: unix sockets need STATIC clusters, not DNS")
		}
	}
	targets := Targets(c)
	for _, t := range targets {
		ep, ok := a.Inference[t.Serve()]
		if !ok {
			return nil, fmt.Errorf("render: no address for %s", t.Serve())
		}
		d.Routes = append(d.Routes, route{Target: t, Endpoint: ep, Shadow: shadowOf(c, targets, t)})
		d.HasLLM = d.HasLLM || t.LLM
	}
	sort.SliceStable(d.Routes, func(i, j int) bool { return d.Routes[i].Index < d.Routes[j].Index })
	tmpl, err := template.New("envoy").Option("missingkey=error").Funcs(template.FuncMap{"dict": Dict}).Parse(tmplText)
	if err != nil {
		return nil, fmt.Errorf("render: parse template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

// File is a checked-in rendering.
type File struct {
	// Path is relative to the repository root.
	Path      string
	Addresses Addresses
}

// CheckedIn lists the renderings kept in the repository: the local stack on
// its default ports (for reading and `envoy --mode validate`) and the
// compose network (mounted by compose.yaml).
func CheckedIn(c *catalog.Catalog) []File {
	return []File{
		{Path: "envoy/envoy.yaml", Addresses: Local(c, DefaultPorts(), "/dev/stdout").WithSockets(".run")},
		{Path: "envoy/envoy.compose.yaml", Addresses: Compose(c)},
	}
}

// Dict builds the argument map of a template call from key/value pairs
// (the "dict" function of the templates here and of deploy/'s).
func Dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
