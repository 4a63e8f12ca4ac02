// Package ops holds modelgate's operations assets and renders the parts
// that depend on where the stack runs: the Prometheus config (scrape
// targets for Envoy, extproc, ratelimit and every inference process) next
// to the recording and SLO alerting rules in prometheus/rules/, and the
// Grafana dashboard in grafana/. tools/stack starts Prometheus with it for
// `make run`; prometheus.compose.yml is the rendering for compose.yaml.
package ops

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/internal/catalog"
)

//go:embed prometheus/prometheus.yml.tmpl prometheus/rules/*.yml prometheus/metrics.txt grafana/*.json
var files embed.FS

// RulesDir is the folder of the rule files, relative to the repository root.
const RulesDir = "ops/prometheus/rules"

// DashboardFile is the Grafana dashboard, relative to the repository root.
const DashboardFile = "ops/grafana/modelgate.json"

// Deployment is one inference process to scrape.
type Deployment struct {
	// Address is host:port of its HTTP server (/metrics).
	Address string
	// Deployment names it (inference-iris-1); it becomes the deployment
	// label of its series.
	Deployment string
}

// Scrape says what one Prometheus scrapes and evaluates.
type Scrape struct {
	// Interval is the scrape and rule evaluation interval (default 15s).
	Interval string
	// Stack is the external label naming this stack (default modelgate).
	Stack string
	// Envoy is Envoy's admin host:port; RateLimit the ratelimit service's
	// Prometheus host:port.
	Envoy, RateLimit string
	// Extproc are the extproc replicas' admin host:port.
	Extproc   []string
	Inference []Deployment
	// RuleFiles are the rule file paths as Prometheus will see them.
	RuleFiles []string
}

// PrometheusConfig renders prometheus.yml for s.
func PrometheusConfig(s Scrape) ([]byte, error) {
	if s.Interval == "" {
		s.Interval = "15s"
	}
	if s.Stack == "" {
		s.Stack = "modelgate"
	}
	var errs []error
	if s.Envoy == "" {
		errs = append(errs, errors.New("scrape: Envoy address is required"))
	}
	if len(s.Extproc) == 0 {
		errs = append(errs, errors.New("scrape: at least one extproc address is required"))
	}
	if s.RateLimit == "" {
		errs = append(errs, errors.New("scrape: ratelimit address is required"))
	}
	if len(s.Inference) == 0 {
		errs = append(errs, errors.New("scrape: at least one inference deployment is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t, err := template.New("prometheus.yml.tmpl").Funcs(template.FuncMap{
		"join": func(addrs []string) string {
			q := make([]string, len(addrs))
			for i, a := range addrs {
				q[i] = `"` + a + `"`
			}
			return strings.Join(q, ", ")
		},
	}).ParseFS(files, "prometheus/prometheus.yml.tmpl")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("render prometheus.yml: %w", err)
	}
	return b.Bytes(), nil
}

// RuleFileNames lists the rule files (base names, sorted).
func RuleFileNames() []string {
	names, _ := fs.Glob(files, "prometheus/rules/*.yml")
	for i, n := range names {
		names[i] = path.Base(n)
	}
	return names
}

// RuleFiles returns the rule files' paths under the repository root.
func RuleFiles(root string) []string {
	names := RuleFileNames()
	for i, n := range names {
		names[i] = filepath.Join(root, filepath.FromSlash(RulesDir), n)
	}
	return names
}

// ReadRules returns the content of one rule file by base name.
func ReadRules(name string) ([]byte, error) {
	return files.ReadFile("prometheus/rules/" + name)
}

// Dashboard returns the Grafana dashboard JSON.
func Dashboard() ([]byte, error) {
	return files.ReadFile("grafana/modelgate.json")
}

// MetricInventory returns prometheus/metrics.txt: the raw metric names the
// rules and the dashboard may use, each with its kind (see ops/inventory).
func MetricInventory() []byte {
	b, _ := files.ReadFile("prometheus/metrics.txt")
	return b
}

// ComposeConfigFile is the Prometheus config for compose.yaml's service
// names, relative to the repository root (tools/envoygen writes it).
const ComposeConfigFile = "ops/prometheus/prometheus.compose.yml"

// ComposeConfig renders the Prometheus config for compose.yaml: the
// services by name, every catalog version's inference deployment, the
// rules mounted at /etc/prometheus/rules.
func ComposeConfig(c *catalog.Catalog) ([]byte, error) {
	s := Scrape{
		Envoy: "envoy:9901", Extproc: []string{"extproc:9001"}, RateLimit: "ratelimit:9090",
		RuleFiles: []string{"/etc/prometheus/rules/*.yml"},
	}
	for _, t := range bootstrap.Targets(c) {
		s.Inference = append(s.Inference, Deployment{
			Address: t.Service + ":" + strconv.Itoa(bootstrap.ComposeInferencePort), Deployment: t.Service})
	}
	return PrometheusConfig(s)
}
