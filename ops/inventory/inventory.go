// Package inventory checks the PromQL of modelgate's operations assets
// against the metric names that exist: every expression of the rules and
// of every dashboard panel must parse (with Prometheus's own parser), and
// every metric it selects must be recorded by a rule or listed in
// ops/prometheus/metrics.txt, whose scraped names the end-to-end suite
// finds in a live stack's Prometheus.
package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/ops"
)

// Kind says where a listed metric comes from.
type Kind string

// Kinds of listed metrics (see ops/prometheus/metrics.txt).
const (
	Scraped Kind = "scraped"
	Builtin Kind = "builtin"
	Pending Kind = "pending"
)

// Entry is one listed metric name.
type Entry struct {
	Name string
	Kind Kind
}

// Load parses an inventory (the format of ops/prometheus/metrics.txt).
func Load(b []byte) ([]Entry, error) {
	var out []Entry
	var errs []error
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			errs = append(errs, fmt.Errorf("line %d: want name and kind, got %q", n, line))
			continue
		}
		k := Kind(f[1])
		if k != Scraped && k != Builtin && k != Pending {
			errs = append(errs, fmt.Errorf("line %d: kind %q is not scraped, builtin or pending", n, f[1]))
			continue
		}
		if seen[f[0]] {
			errs = append(errs, fmt.Errorf("line %d: %s listed twice", n, f[0]))
		}
		seen[f[0]] = true
		out = append(out, Entry{Name: f[0], Kind: k})
	}
	return out, errors.Join(errs...)
}

// Shipped returns the inventory in ops/prometheus/metrics.txt.
func Shipped() ([]Entry, error) { return Load(ops.MetricInventory()) }

// Metrics returns the metric names an expression selects, sorted and
// deduplicated, or the parser's error.
func Metrics(expr string) ([]string, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, vs := range parser.ExtractSelectors(e) {
		for _, m := range vs {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				names = append(names, m.Value)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Expr is one PromQL expression of an asset, and where it is.
type Expr struct {
	Where, Expr string
}

// RuleSet is what a rule file defines and evaluates.
type RuleSet struct {
	// Records are the names its recording rules define.
	Records []string
	Exprs   []Expr
}

// Rules reads a Prometheus rule file.
func Rules(name string, b []byte) (RuleSet, error) {
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Record string `yaml:"record"`
				Alert  string `yaml:"alert"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return RuleSet{}, fmt.Errorf("%s: %w", name, err)
	}
	var rs RuleSet
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			id := r.Record + r.Alert
			if r.Record != "" {
				rs.Records = append(rs.Records, r.Record)
			}
			rs.Exprs = append(rs.Exprs, Expr{Where: name + ": " + g.Name + ": " + id, Expr: r.Expr})
		}
	}
	return rs, nil
}

// grafanaVars are Grafana's built-in interval variables, which are not
// PromQL until Grafana substitutes them; a dashboard variable inside a
// label matcher's string ("$model") parses as it is.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// labelValues matches a template variable's label_values(metric, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// Dashboard returns every PromQL expression of a Grafana dashboard: each
// panel's targets (rows' nested panels included) and each query
// variable's label_values metric.
func Dashboard(b []byte) ([]Expr, error) {
	type target struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	var out []Expr
	var errs []error
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				errs = append(errs, fmt.Errorf("panel %q has no queries", p.Title))
			}
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					errs = append(errs, fmt.Errorf("panel %q target %s has no expr", p.Title, t.RefID))
					continue
				}
				out = append(out, Expr{Where: fmt.Sprintf("panel %q target %s", p.Title, t.RefID), Expr: grafanaVars.Replace(t.Expr)})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(strings.TrimSpace(v.Definition))
		if m == nil {
			errs = append(errs, fmt.Errorf("variable %s: %q is not label_values(metric, label)", v.Name, v.Definition))
			continue
		}
		out = append(out, Expr{Where: "variable " + v.Name, Expr: m[1]})
	}
	return out, errors.Join(errs...)
}

// Unknown checks exprs: it returns an error for each that does not parse
// and for each metric one selects that is neither in known nor recorded.
// used collects every name seen.
func Unknown(exprs []Expr, known map[string]bool, used map[string]bool) error {
	var errs []error
	for _, e := range exprs {
		names, err := Metrics(e.Expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: %w", e.Where, e.Expr, err))
			continue
		}
		if len(names) == 0 && !strings.Contains(e.Expr, "vector(") {
			errs = append(errs, fmt.Errorf("%s: %q selects no metric by name", e.Where, e.Expr))
		}
		for _, n := range names {
			used[n] = true
			if !known[n] {
				errs = append(errs, fmt.Errorf("%s: metric %s is neither recorded by a rule nor in ops/prometheus/metrics.txt", e.Where, n))
			}
		}
	}
	return errors.Join(errs...)
}
