package status

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/ops"
)

// TestQueries_areRecordedByTheShippedRules: the page reads recording rules
// only, so each name it queries must be one ops/prometheus/rules records.
func TestQueries_areRecordedByTheShippedRules(t *testing.T) {
	t.Parallel()
	recorded := map[string]bool{}
	for _, name := range ops.RuleFileNames() {
		b, err := ops.ReadRules(name)
		require.NoError(t, err)
		var f struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		require.NoError(t, yaml.Unmarshal(b, &f))
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				recorded[r.Record] = true
			}
		}
	}
	for _, q := range []string{qRate, qP95, qErrors, qCache, qUnavailable, qVersionRate, qVersionMix, qVersionP95, qVersionError} {
		require.True(t, recorded[q], "%s is not recorded by ops/prometheus/rules", q)
	}
}
