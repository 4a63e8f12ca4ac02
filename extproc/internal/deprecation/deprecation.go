// Package deprecation holds the table of deprecated routes and renders the
// headers that announce them: Deprecation (RFC 9745), Sunset (RFC 8594) and
// Link rel="deprecation". After a route's sunset it can refuse requests
// (410). It is pure and data-driven: the table comes from configuration.
package deprecation

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/api/header"
)

// Rule is one configured deprecation.
type Rule struct {
	// Path is an exact request path ("/v1/predict"), or a prefix when it
	// ends in "/*" ("/v1/*").
	Path string `yaml:"path"`
	// Deprecated is when the route was (or will be) deprecated.
	Deprecated time.Time `yaml:"deprecated"`
	// Sunset is when the route stops being served; zero means not
	// scheduled.
	Sunset time.Time `yaml:"sunset"`
	// Link documents the deprecation and the way off the route.
	Link string `yaml:"link"`
	// RejectAfterSunset answers 410 once Sunset has passed.
	RejectAfterSunset *bool `yaml:"reject_after_sunset"`
}

// httpDate is the IMF-fixdate layout of HTTP dates (RFC 9110 5.6.7), as
// net/http spells it; the package stays free of net/http.
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// Header is one response header to set.
type Header struct{ Name, Value string }

// Policy is one rule with its headers rendered once.
type Policy struct {
	Rule
	headers []Header
	reject  bool
}

// Headers returns the announcement headers; callers must not modify them.
func (p *Policy) Headers() []Header { return p.headers }

// Check returns a *SunsetError when the route's sunset has passed and the
// rule rejects requests after it.
func (p *Policy) Check(now time.Time) error {
	if p.reject && !p.Sunset.IsZero() && !now.Before(p.Sunset) {
		return &SunsetError{Policy: p}
	}
	return nil
}

// SunsetError reports a request to a route past its sunset.
type SunsetError struct{ Policy *Policy }

func (e *SunsetError) Error() string {
	return fmt.Sprintf("%s was retired on %s", e.Policy.Path, e.Policy.Sunset.UTC().Format(httpDate))
}

// DeprecationValue is the RFC 9745 structured date of the rule.
func (p *Policy) DeprecationValue() string { return "@" + strconv.FormatInt(p.Deprecated.Unix(), 10) }

// SunsetValue is the RFC 8594 HTTP-date of the rule, or "".
func (p *Policy) SunsetValue() string {
	if p.Sunset.IsZero() {
		return ""
	}
	return p.Sunset.UTC().Format(httpDate)
}

// Table maps request paths to policies. A nil or empty Table deprecates
// nothing. It is immutable once built.
type Table struct {
	exact    map[string]*Policy
	prefixes []*Policy
}

// New validates the rules (every problem at once, with its index) and
// builds the table.
func New(rules []Rule) (*Table, error) {
	t := &Table{exact: map[string]*Policy{}}
	var errs []error
	seen := map[string]bool{}
	for i, r := range rules {
		if problems := validate(r); len(problems) > 0 {
			for _, err := range problems {
				errs = append(errs, fmt.Errorf("deprecations[%d].%w", i, err))
			}
			continue
		}
		if seen[r.Path] {
			errs = append(errs, fmt.Errorf("deprecations[%d].path: %q is listed twice", i, r.Path))
			continue
		}
		seen[r.Path] = true
		p := &Policy{Rule: r, reject: r.RejectAfterSunset == nil || *r.RejectAfterSunset}
		p.headers = append(p.headers, Header{header.Deprecation, p.DeprecationValue()})
		if s := p.SunsetValue(); s != "" {
			p.headers = append(p.headers, Header{header.Sunset, s})
		}
		if r.Link != "" {
			p.headers = append(p.headers, Header{header.Link, "<" + r.Link + `>; rel="deprecation"; type="text/html"`})
		}
		if prefix, ok := strings.CutSuffix(r.Path, "/*"); ok {
			p.Path = prefix + "/"
			t.prefixes = append(t.prefixes, p)
		} else {
			t.exact[r.Path] = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func validate(r Rule) []error {
	var errs []error
	if !strings.HasPrefix(r.Path, "/") {
		errs = append(errs, fmt.Errorf("path: %q must start with /", r.Path))
	}
	if r.Deprecated.IsZero() {
		errs = append(errs, errors.New("deprecated: required (a date such as 2026-01-01 or an RFC 3339 time)"))
	}
	if !r.Sunset.IsZero() && r.Sunset.Before(r.Deprecated) {
		errs = append(errs, errors.New("sunset: must not be earlier than deprecated"))
	}
	if r.Link != "" {
		u, err := url.Parse(r.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(r.Link, "<>\" ") {
			errs = append(errs, fmt.Errorf("link: %q is not an absolute http(s) URL", r.Link))
		}
	}
	return errs
}

// Lookup returns the policy for path (exact rules first, then the longest
// matching prefix), or nil.
func (t *Table) Lookup(path string) *Policy {
	if t == nil {
		return nil
	}
	if p, ok := t.exact[path]; ok {
		return p
	}
	var best *Policy
	for _, p := range t.prefixes {
		if strings.HasPrefix(path, p.Path) && (best == nil || len(p.Path) > len(best.Path)) {
			best = p
		}
	}
	return best
}
