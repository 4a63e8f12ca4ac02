package bootstrap

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/api"
	"github.com/modelgate/modelgate/internal/openapi"
)

// allowGroup is one path of the API and its Allow value: an RE2 regular
// expression over :path (query included) with no backslash, so it sits in
// a CEL string inside a YAML string unescaped. One per path: CEL bounds the
// size of a compiled expression.
type allowGroup struct {
	Regex string
	Allow string
}

// queryAllowGroups lists the paths of api/openapi.yaml that do not take
// QUERY with their methods. Envoy answers a QUERY without content-type itself
// (RFC 10008 §2) before any filter runs; a local reply mapper per group
// turns that answer into the 405 with Allow the plugin gives every other
// method a path lacks, from the same document.
func queryAllowGroups() ([]allowGroup, error) {
	s, err := openapi.ParseStatic(api.OpenAPI)
	if err != nil {
		return nil, err
	}
	var out []allowGroup
	for _, p := range s.Paths() {
		if slices.Contains(p.Methods, "QUERY") {
			continue
		}
		re := "^" + pathRegex(p.Segments) + "([?].*)?$"
		if _, err := regexp.Compile(re); err != nil {
			return nil, fmt.Errorf("path regex for %s: %w", p.Template, err)
		}
		out = append(out, allowGroup{Regex: re, Allow: strings.Join(p.Methods, ", ")})
	}
	return out, nil
}

// pathRegex matches one template: a parameter is one non-empty segment,
// literal characters are matched as themselves.
func pathRegex(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			b.WriteString("[^/?]+")
			continue
		}
		for _, r := range s {
			if strings.ContainsRune(`.+*?()|[]{}^$\`, r) {
				b.WriteString("[" + string(r) + "]")
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
