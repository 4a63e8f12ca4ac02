// Package status serves the gateway's status page: the SLA at a glance
// (p95 latency against 200 ms, error rate against 0.1 %, availability
// against 99.9 %), traffic and p95 per model version, cache hit rate and
// the alerts firing. It reads the recording rules and alerts of
// ops/prometheus/rules from a Prometheus over its HTTP API and renders one
// HTML page on the server, so any browser (or curl) shows the numbers.
package status

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The SLA the page holds the numbers against.
const (
	// LatencyObjective is the p95 bound, in seconds.
	LatencyObjective = 0.2
	// ErrorObjective is the largest share of 5xx answers.
	ErrorObjective = 0.001
	// AvailabilityObjective is the least share of client requests answered
	// without a 5xx.
	AvailabilityObjective = 0.999
)

// maxAnswer bounds a Prometheus answer read by the page.
const maxAnswer = 4 << 20

// The recording rules the page reads (ops/prometheus/rules).
const (
	qRate         = "gateway:modelgate_requests:rate5m"
	qP95          = "gateway:modelgate_request_duration_seconds:p95_rate5m"
	qErrors       = "gateway:modelgate_request_errors:ratio_rate5m"
	qCache        = "gateway:modelgate_cache_hits:ratio_rate5m"
	qUnavailable  = "gateway:modelgate_sli_unavailable:ratio_rate1h"
	qVersionRate  = "model_version:modelgate_requests:rate5m"
	qVersionMix   = "model_version:modelgate_version_mix:ratio_rate5m"
	qVersionP95   = "model_version:modelgate_request_duration_seconds:p95_rate5m"
	qVersionError = "model_version:modelgate_sli_errors:ratio_rate5m"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"ms": func(v value) string {
		return v.format(func(f float64) string { return fmt.Sprintf("%.1f ms", f*1000) })
	},
	"pct": func(v value) string { return v.format(func(f float64) string { return fmt.Sprintf("%.3f %%", f*100) }) },
	"rps": func(v value) string { return v.format(func(f float64) string { return fmt.Sprintf("%.3g req/s", f) }) },
	"raw": func(v value) string { return v.format(func(f float64) string { return fmt.Sprintf("%g", f) }) },
}).Parse(pageHTML))

// Config configures a [Page].
type Config struct {
	// PrometheusURL is the base URL of the Prometheus to query; empty
	// renders a page that says so.
	PrometheusURL string
	// Client is the HTTP client for Prometheus (default: 2 s timeout).
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Page is the status page handler.
type Page struct {
	base   string
	client *http.Client
	logger *slog.Logger
	now    func() time.Time
}

// New returns the page.
func New(cfg Config) *Page {
	p := &Page{base: strings.TrimRight(cfg.PrometheusURL, "/"), client: cfg.Client, logger: cfg.Logger, now: cfg.Now}
	if p.client == nil {
		p.client = &http.Client{Timeout: 2 * time.Second}
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// value is one number on the page; OK is false when Prometheus had none
// (no traffic in the window, or no Prometheus).
type value struct {
	V  float64
	OK bool
}

func (v value) format(f func(float64) string) string {
	if !v.OK {
		return "no data"
	}
	return f(v.V)
}

// verdict compares v with a bound: "ok", "breach" or "nodata".
func verdict(v value, within func(float64) bool) string {
	switch {
	case !v.OK:
		return "nodata"
	case within(v.V):
		return "ok"
	default:
		return "breach"
	}
}

// versionRow is one model version's line.
type versionRow struct {
	Model, Version         string
	Rate, Share, P95, Errs value
}

// view is what the template renders.
type view struct {
	Generated                                      string
	Prometheus                                     string
	Problems                                       []string
	Rate, P95, Errors, Cache, Availability         value
	P95Verdict, ErrorsVerdict, AvailabilityVerdict string
	Versions                                       []versionRow
	Alerts                                         []alert
	LatencyObjectiveMS                             float64
	ErrorObjectivePct, AvailabilityObjectivePct    float64
}

// ServeHTTP implements [http.Handler].
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := p.collect(r.Context())
	w.Header().Set("content-type", "text/html; charset=utf-8")
	w.Header().Set("cache-control", "no-store")
	w.Header().Set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
	if err := pageTmpl.Execute(w, v); err != nil {
		p.logger.WarnContext(r.Context(), "render status page", slog.Any("error", err))
	}
}

// collect runs every query concurrently; a failed query leaves its numbers
// at "no data" and is listed on the page.
func (p *Page) collect(ctx context.Context) view {
	v := view{
		Generated: p.now().UTC().Format(time.RFC3339), Prometheus: p.base,
		LatencyObjectiveMS: LatencyObjective * 1000, ErrorObjectivePct: ErrorObjective * 100,
		AvailabilityObjectivePct: AvailabilityObjective * 100,
	}
	if p.base == "" {
		v.Problems = []string{"no Prometheus configured (EXTPROC_STATUS_PROMETHEUS_URL)"}
		v.P95Verdict, v.ErrorsVerdict, v.AvailabilityVerdict = "nodata", "nodata", "nodata"
		return v
	}
	queries := []string{qRate, qP95, qErrors, qCache, qUnavailable, qVersionRate, qVersionMix, qVersionP95, qVersionError}
	results := make(map[string][]sample, len(queries))
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		problems []string
		alerts   []alert
	)
	for _, q := range queries {
		wg.Go(func() {
			s, err := p.query(ctx, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				problems = append(problems, err.Error())
				return
			}
			results[q] = s
		})
	}
	wg.Go(func() {
		a, err := p.alerts(ctx)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			problems = append(problems, err.Error())
			return
		}
		alerts = a
	})
	wg.Wait()
	slices.Sort(problems)
	v.Problems = slices.Compact(problems)

	v.Rate, v.P95, v.Errors, v.Cache = single(results[qRate]), single(results[qP95]), single(results[qErrors]), single(results[qCache])
	if u := single(results[qUnavailable]); u.OK {
		v.Availability = value{V: 1 - u.V, OK: true}
	}
	v.P95Verdict = verdict(v.P95, func(f float64) bool { return f < LatencyObjective })
	v.ErrorsVerdict = verdict(v.Errors, func(f float64) bool { return f < ErrorObjective })
	v.AvailabilityVerdict = verdict(v.Availability, func(f float64) bool { return f >= AvailabilityObjective })
	v.Versions = versions(results)
	for _, a := range alerts {
		if a.State == "firing" {
			v.Alerts = append(v.Alerts, a)
		}
	}
	slices.SortFunc(v.Alerts, func(a, b alert) int {
		return cmp.Or(cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Summary, b.Summary))
	})
	return v
}

// single is the value of a query with one result; NaN (a quantile or ratio
// over no requests) is no data.
func single(s []sample) value {
	if len(s) != 1 || math.IsNaN(s[0].Value) || math.IsInf(s[0].Value, 0) {
		return value{}
	}
	return value{V: s[0].Value, OK: true}
}

// versions joins the per-version queries on (model, model_version).
func versions(results map[string][]sample) []versionRow {
	type key struct{ model, version string }
	rows := map[key]*versionRow{}
	set := func(q string, field func(*versionRow) *value) {
		for _, s := range results[q] {
			k := key{s.Labels["model"], s.Labels["model_version"]}
			r, ok := rows[k]
			if !ok {
				r = &versionRow{Model: k.model, Version: k.version}
				rows[k] = r
			}
			*field(r) = single([]sample{s})
		}
	}
	set(qVersionRate, func(r *versionRow) *value { return &r.Rate })
	set(qVersionMix, func(r *versionRow) *value { return &r.Share })
	set(qVersionP95, func(r *versionRow) *value { return &r.P95 })
	set(qVersionError, func(r *versionRow) *value { return &r.Errs })
	out := make([]versionRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b versionRow) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version))
	})
	return out
}
