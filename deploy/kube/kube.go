// Package kube renders modelgate's Kubernetes and Istio manifests from the
// model catalog: one inference Deployment, Service and PodDisruptionBudget
// per catalog version, ConfigMaps holding the Envoy bootstrap (rendered by
// envoy/bootstrap for this cluster's service names), the catalog and the
// ratelimit config, and the Istio objects that put the same filter chain
// into an ingress gateway. A test fails when the checked-in files under
// deploy/ differ from what [Render] returns.
package kube

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

//go:embed templates
var templates embed.FS

// Namespace is the namespace every modelgate object lives in.
const Namespace = "modelgate"

// MonitoringNamespace is where the NetworkPolicies expect Prometheus.
const MonitoringNamespace = "monitoring"

// Ports are the ports the containers listen on. Where compose has the same
// port, it is compose's (envoy/bootstrap's Compose* constants).
type Ports struct {
	Envoy, EnvoyStats, EnvoyAdmin      int
	ExtprocGRPC, ExtprocAdmin          int
	RateLimitGRPC, RateLimitHTTP       int
	RateLimitMetrics, Redis, Inference int
}

// DefaultPorts are the ports the manifests use.
func DefaultPorts() Ports {
	return Ports{
		Envoy: bootstrap.ComposeEnvoyPort, EnvoyStats: 9902, EnvoyAdmin: bootstrap.ComposeEnvoyAdminPort,
		ExtprocGRPC: bootstrap.ComposeExtprocGRPC, ExtprocAdmin: 9001,
		RateLimitGRPC: bootstrap.ComposeRateLimitGRPC, RateLimitHTTP: 8080, RateLimitMetrics: 9090,
		Redis: 6379, Inference: bootstrap.ComposeInferencePort,
	}
}

// Images are the container images, the ones compose.yaml names.
type Images struct {
	Envoy, Extproc, Inference, RateLimit, Redis string
}

// Sources is what the manifests are rendered from.
type Sources struct {
	Catalog *catalog.Catalog
	// CatalogYAML and RateLimitYAML are the files' bytes, for ConfigMaps.
	CatalogYAML, RateLimitYAML []byte
}

// Files in the repository that [Load] reads, relative to its root.
const (
	CatalogFile   = "models/catalog.yaml"
	RateLimitFile = "ratelimit-config/config/modelgate.yaml"
)

// Load reads the sources from the repository at root.
func Load(root string) (Sources, error) {
	var s Sources
	var err error
	if s.CatalogYAML, err = os.ReadFile(filepath.Join(root, CatalogFile)); err != nil {
		return s, fmt.Errorf("load: %w", err)
	}
	if s.Catalog, err = catalog.Parse(s.CatalogYAML); err != nil {
		return s, fmt.Errorf("load %s: %w", CatalogFile, err)
	}
	if s.RateLimitYAML, err = os.ReadFile(filepath.Join(root, RateLimitFile)); err != nil {
		return s, fmt.Errorf("load: %w", err)
	}
	return s, nil
}

// File is one rendered manifest file.
type File struct {
	// Path is relative to the repository root.
	Path string
	Data []byte
}

// data is what the templates see.
type data struct {
	Namespace, MonitoringNamespace string
	Images                         Images
	Ports                          Ports
	Targets                        []bootstrap.Target
	Default                        bootstrap.Target
	EnvoyConfig, Catalog           string
	RateLimitConfig                string
	Hash                           struct{ Envoy, Catalog string }
	// Istio holds what only the deploy/istio templates use.
	Istio istioData
}

// Render returns every manifest file under deploy/kubernetes and
// deploy/istio.
func Render(s Sources) ([]File, error) {
	c := s.Catalog
	d := data{
		Namespace: Namespace, MonitoringNamespace: MonitoringNamespace,
		Ports: DefaultPorts(), Targets: bootstrap.Targets(c),
		Catalog: string(s.CatalogYAML), RateLimitConfig: string(s.RateLimitYAML),
	}
	var err error
	if d.Default, err = bootstrap.DefaultTarget(c); err != nil {
		return nil, err
	}
	if d.Images, err = composeImages(c); err != nil {
		return nil, err
	}
	env, err := EnvoyConfig(c, d.Ports)
	if err != nil {
		return nil, err
	}
	d.EnvoyConfig = string(env)
	d.Hash.Envoy, d.Hash.Catalog = hash(env), hash(s.CatalogYAML)
	if d.Istio, err = istio(c, d.Ports); err != nil {
		return nil, err
	}
	var out []File
	for _, dir := range []string{"kubernetes", "istio"} {
		fs, err := renderDir(dir, d)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

func renderDir(dir string, d data) ([]File, error) {
	tmpl, err := template.New(dir).Option("missingkey=error").Funcs(template.FuncMap{
		"indent": indent, "dict": bootstrap.Dict,
		"list":  func(s ...string) []string { return s },
		"split": func(s string) []string { return strings.SplitN(s, ":", 2) },
	}).ParseFS(templates, "templates/kubernetes/helpers.tmpl", "templates/"+dir+"/*.yaml.tmpl")
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	entries, err := templates.ReadDir("templates/" + dir)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".tmpl")
		if !ok || !strings.HasSuffix(name, ".yaml") {
			continue
		}
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, e.Name(), d); err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", dir, name, err)
		}
		out = append(out, File{Path: path.Join("deploy", dir, name), Data: buf.Bytes()})
	}
	return out, nil
}

// EnvoyConfig is Envoy's bootstrap for the cluster: the compose rendering
// (the Services carry compose's service names, so the same addresses
// resolve in the namespace) plus a listener on p.EnvoyStats that forwards
// GET /stats/prometheus and GET /ready to the admin interface, which stays
// on the pod's loopback (it can also drain and stop Envoy).
func EnvoyConfig(c *catalog.Catalog, p Ports) ([]byte, error) {
	a := bootstrap.Compose(c)
	a.Admin = bootstrap.Endpoint{Host: "127.0.0.1", Port: p.EnvoyAdmin}
	b, err := bootstrap.Render(c, a, bootstrap.Options{})
	if err != nil {
		return nil, err
	}
	const at = "\n  clusters:\n"
	if bytes.Count(b, []byte(at)) != 1 {
		return nil, fmt.Errorf("envoy config: want exactly one %q", strings.TrimSpace(at))
	}
	stats := fmt.Sprintf(statsListener, p.EnvoyStats) + at + fmt.Sprintf(adminCluster, p.EnvoyAdmin)
	return bytes.Replace(b, []byte(at), []byte(stats), 1), nil
}

const statsListener = `
    # Kubernetes: Prometheus and the readiness probe reach two admin paths
    # through this listener; nothing else of the admin interface is exposed.
    - name: stats
      address:
        socket_address: {address: 0.0.0.0, port_value: %d}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: stats
                route_config:
                  name: stats
                  virtual_hosts:
                    - name: stats
                      domains: ["*"]
                      routes:
                        - match: {path: /stats/prometheus, headers: [{name: ":method", string_match: {exact: GET}}]}
                          route: {cluster: envoy_admin}
                        - match: {path: /ready, headers: [{name: ":method", string_match: {exact: GET}}]}
                          route: {cluster: envoy_admin}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`

const adminCluster = `    # The admin interface on the pod's loopback (the stats listener's upstream).
    - name: envoy_admin
      type: STATIC
      connect_timeout: 0.25s
      load_assignment: {cluster_name: envoy_admin, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}
`

// composeImages reads the images from compose.yaml as envoy/bootstrap
// renders it, so both deployments run the same images.
func composeImages(c *catalog.Catalog) (Images, error) {
	b, err := bootstrap.RenderCompose(c)
	if err != nil {
		return Images{}, err
	}
	var f struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return Images{}, fmt.Errorf("compose images: %w", err)
	}
	var errs []string
	image := func(service string) string {
		img := f.Services[service].Image
		if img == "" {
			errs = append(errs, service)
		}
		return img
	}
	ts := bootstrap.Targets(c)
	if len(ts) == 0 {
		return Images{}, fmt.Errorf("compose images: the catalog has no versions")
	}
	im := Images{
		Envoy: image("envoy"), Extproc: image("extproc"), RateLimit: image("ratelimit"),
		Redis: image("redis"), Inference: image(ts[0].Service),
	}
	if len(errs) > 0 {
		return Images{}, fmt.Errorf("compose images: no image for %s", strings.Join(errs, ", "))
	}
	return im, nil
}

func hash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// indent prefixes every non-empty line of s with n spaces, for a YAML
// block scalar; the final newline is the scalar's own.
func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = pad + l
		} else {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}
