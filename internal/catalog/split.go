package catalog

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Split is one share of a weighted alias: Weight parts of every total go to
// Version.
type Split struct {
	Version string `json:"version"`
	Weight  int    `json:"weight"`
}

// Shadow mirrors a share of a model's prediction traffic to a version whose
// answers are thrown away: Envoy copies Percent of the requests routed to
// any other version of the model to Version's cluster.
type Shadow struct {
	Version string `yaml:"version" json:"version"`
	Percent int    `yaml:"percent" json:"percent"`
}

// modelFields are the keys a catalog model may have.
var modelFields = []string{"description", "versions", "aliases", "kind", "shadow"}

// UnmarshalYAML reads a model entry. An alias is either a version
// (`stable: "1"`) or a weighted split between versions
// (`stable: {"1": 90, "2": 10}`); weights are checked by validate, so every
// problem of the catalog is reported at once.
func (m *Model) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a model is a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !slices.Contains(modelFields, k) {
			return fmt.Errorf("line %d: field %s not found in a model (fields: %s)", n.Content[i].Line, k, strings.Join(modelFields, ", "))
		}
		if v := n.Content[i+1]; k == "shadow" && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if f := v.Content[j].Value; f != "version" && f != "percent" {
					return fmt.Errorf("line %d: field %s not found in a shadow (fields: version, percent)", v.Content[j].Line, f)
				}
			}
		}
	}
	var raw struct {
		Description string               `yaml:"description"`
		Versions    []string             `yaml:"versions"`
		Aliases     map[string]yaml.Node `yaml:"aliases"`
		Kind        string               `yaml:"kind"`
		Shadow      *Shadow              `yaml:"shadow"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	m.Description, m.Versions, m.Kind, m.Shadow = raw.Description, raw.Versions, raw.Kind, raw.Shadow
	m.Aliases = map[string]string{}
	m.Splits = nil
	for alias, node := range raw.Aliases {
		switch node.Kind {
		case yaml.ScalarNode:
			m.Aliases[alias] = node.Value
		case yaml.MappingNode:
			splits := make([]Split, 0, len(node.Content)/2)
			for i := 0; i+1 < len(node.Content); i += 2 {
				v, w := node.Content[i], node.Content[i+1]
				var weight int
				// Tag first: the decoder would read 0.5 as 0.
				if w.Kind != yaml.ScalarNode || w.ShortTag() != "!!int" || w.Decode(&weight) != nil {
					return fmt.Errorf("line %d: aliases.%s.%s: weight %q must be an integer", w.Line, alias, v.Value, w.Value)
				}
				splits = append(splits, Split{Version: v.Value, Weight: weight})
			}
			if m.Splits == nil {
				m.Splits = map[string][]Split{}
			}
			m.Splits[alias] = splits
			// Named here so validate checks the alias like any other;
			// validateSplits sets its primary version.
			m.Aliases[alias] = ""
		default:
			return fmt.Errorf("line %d: aliases.%s: a version or a mapping of versions to weights", node.Line, alias)
		}
	}
	return nil
}

// validateSplits checks the weighted aliases and the shadow of a model
// whose versions are known (seen), orders each split by the model's
// version order and sets the alias's primary target: the version with the
// largest weight (the first listed on a tie), which a request that names no
// client resolves to.
func (m *Model) validateSplits(seen map[string]bool) []error {
	var errs []error
	for alias, splits := range m.Splits {
		path := fmt.Sprintf("models.%s.aliases.%s", m.Name, alias)
		if len(splits) == 0 {
			errs = append(errs, fmt.Errorf("%s: a weighted alias needs at least one version", path))
			continue
		}
		for _, s := range splits {
			if !seen[s.Version] {
				errs = append(errs, fmt.Errorf("%s: %q is not a version", path, s.Version))
			}
			if s.Weight <= 0 {
				errs = append(errs, fmt.Errorf("%s.%s: weight %d must be a positive integer", path, s.Version, s.Weight))
			}
		}
		order := func(v string) int {
			if i := slices.Index(m.Versions, v); i >= 0 {
				return i
			}
			return len(m.Versions)
		}
		sort.Slice(splits, func(i, j int) bool {
			if oi, oj := order(splits[i].Version), order(splits[j].Version); oi != oj {
				return oi < oj
			}
			return splits[i].Version < splits[j].Version
		})
		primary := splits[0]
		for _, s := range splits[1:] {
			if s.Weight > primary.Weight {
				primary = s
			}
		}
		m.Aliases[alias] = primary.Version
	}
	if s := m.Shadow; s != nil {
		path := fmt.Sprintf("models.%s.shadow", m.Name)
		if !seen[s.Version] {
			errs = append(errs, fmt.Errorf("%s.version: %q is not a version", path, s.Version))
		}
		if s.Percent < 1 || s.Percent > 100 {
			errs = append(errs, fmt.Errorf("%s.percent: %d must be between 1 and 100", path, s.Percent))
		}
		if len(m.Versions) < 2 {
			errs = append(errs, fmt.Errorf("%s: the model needs another version to mirror from", path))
		}
		// Clients must never be answered by the shadow: no alias may
		// lead to it (a pinned x-model-version still may, for its owners).
		for _, alias := range m.aliasTargets(s.Version) {
			errs = append(errs, fmt.Errorf("%s.version: %q is a target of alias %s; a shadow answers no client", path, s.Version, alias))
		}
	}
	return errs
}

// aliasTargets lists the aliases (plain or weighted) that may resolve to v.
func (m *Model) aliasTargets(v string) []string {
	var out []string
	for alias, target := range m.Aliases {
		if _, weighted := m.Splits[alias]; !weighted && target == v {
			out = append(out, alias)
		}
	}
	for alias, splits := range m.Splits {
		for _, s := range splits {
			if s.Version == v {
				out = append(out, alias)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ShadowOf returns the shadow mirroring requests routed to version, if the
// model has one and version is not the shadow itself.
func (m *Model) ShadowOf(version string) (Shadow, bool) {
	if m.Shadow == nil || m.Shadow.Version == version {
		return Shadow{}, false
	}
	return *m.Shadow, true
}

// pick chooses a version of a weighted alias for subject: the subject's
// hash, taken modulo the total weight, falls into one version's share. The
// same subject always lands on the same version while the weights stay,
// and a change of weights moves only the subjects whose share changed
// hands (shares are laid out in version order).
func pick(splits []Split, subject, model, alias string) string {
	total := 0
	for _, s := range splits {
		total += s.Weight
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(subject))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(model))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(alias))
	n := int(mix(h.Sum64()) % uint64(total))
	for _, s := range splits {
		if n < s.Weight {
			return s.Version
		}
		n -= s.Weight
	}
	return splits[len(splits)-1].Version
}

// mix is a 64-bit finaliser (MurmurHash3's fmix64): FNV alone leaves the
// low bits of similar strings ("session-1", "session-2") correlated, and
// the modulo reads exactly those.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// ResolveFor is [Catalog.Resolve] for one subject (a client, or a client
// and its end user): a weighted alias resolves by the subject's sticky pick
// instead of to its primary version. An empty subject resolves as Resolve.
func (c *Catalog) ResolveFor(model, version, subject string) (string, error) {
	v, err := c.Resolve(model, version)
	if err != nil || subject == "" {
		return v, err
	}
	if version == "" {
		version = DefaultAlias
	}
	m := c.Models[model]
	if m.HasVersion(version) {
		return v, nil
	}
	if splits, ok := m.Splits[version]; ok {
		return pick(splits, subject, model, version), nil
	}
	return v, nil
}
