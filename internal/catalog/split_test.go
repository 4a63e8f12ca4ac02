package catalog

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

const canary = `
default_model: iris
models:
  iris:
    versions: ["1", "2", "3"]
    aliases: {latest: "2", stable: {"2": 10, "1": 90}}
    shadow: {version: "3", percent: 20}
`

func TestParse_weightedAlias(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(canary))
	require.NoError(t, err)
	iris := c.Models["iris"]
	require.Equal(t, []Split{{"1", 90}, {"2", 10}}, iris.Splits["stable"], "splits in version order")
	require.Equal(t, "1", iris.Aliases["stable"], "the primary version is the heaviest")
	v, err := c.Resolve("iris", "stable")
	require.NoError(t, err)
	require.Equal(t, "1", v, "no subject: the primary version")
	require.Equal(t, &Shadow{Version: "3", Percent: 20}, iris.Shadow)
	sh, ok := iris.ShadowOf("1")
	require.True(t, ok)
	require.Equal(t, "3", sh.Version)
	_, ok = iris.ShadowOf("3")
	require.False(t, ok, "the shadow does not mirror itself")
}

func TestResolveFor(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(canary))
	require.NoError(t, err)
	t.Run("splits subjects by weight", func(t *testing.T) {
		t.Parallel()
		counts := map[string]int{}
		const n = 20000
		for i := range n {
			v, err := c.ResolveFor("iris", "stable", fmt.Sprintf("client/session-%d", i))
			require.NoError(t, err)
			counts[v]++
		}
		require.InDelta(t, 0.9, float64(counts["1"])/n, 0.01, "%v", counts)
		require.InDelta(t, 0.1, float64(counts["2"])/n, 0.01, "%v", counts)
	})
	t.Run("is sticky per subject", func(t *testing.T) {
		t.Parallel()
		first, err := c.ResolveFor("iris", "stable", "acme")
		require.NoError(t, err)
		for range 10 {
			v, err := c.ResolveFor("iris", "stable", "acme")
			require.NoError(t, err)
			require.Equal(t, first, v)
		}
	})
	t.Run("moves only subjects whose share changed hands", func(t *testing.T) {
		t.Parallel()
		half, err := Parse([]byte(`
default_model: iris
models:
  iris:
    versions: ["1", "2"]
    aliases: {stable: {"1": 50, "2": 50}}
`))
		require.NoError(t, err)
		for i := range 2000 {
			s := fmt.Sprintf("s%d", i)
			before, _ := c.ResolveFor("iris", "stable", s)
			after, _ := half.ResolveFor("iris", "stable", s)
			if before == "2" {
				require.Equal(t, "2", after, "a canary client stays on the canary as it grows")
			}
		}
	})
	t.Run("plain aliases and versions ignore the subject", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ version, want string }{{"latest", "2"}, {"", "2"}, {"3", "3"}} {
			v, err := c.ResolveFor("iris", tc.version, "anyone")
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
		}
	})
}

func TestParse_rejectsBadSplitsAndShadows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, models string
		want         []string
	}{
		{"weights must be positive and name versions", `
  iris:
    versions: ["1", "2"]
    aliases: {stable: {"1": 0, "9": 5}}`,
			[]string{`models.iris.aliases.stable.1: weight 0 must be a positive integer`, `models.iris.aliases.stable: "9" is not a version`}},
		{"weights must be integers", `
  iris:
    versions: ["1", "2"]
    aliases: {stable: {"1": 0.5}}`,
			[]string{`aliases.stable.1: weight "0.5" must be an integer`}},
		{"a weighted alias needs a version", `
  iris:
    versions: ["1"]
    aliases: {stable: {}}`,
			[]string{"models.iris.aliases.stable: a weighted alias needs at least one version"}},
		{"the shadow must exist and answer no alias", `
  iris:
    versions: ["1", "2"]
    aliases: {stable: {"1": 1, "2": 1}}
    shadow: {version: "2", percent: 0}`,
			[]string{`models.iris.shadow.version: "2" is a target of alias latest`, `"2" is a target of alias stable`, "models.iris.shadow.percent: 0 must be between 1 and 100"}},
		{"the shadow version must be a version", `
  iris:
    versions: ["1"]
    shadow: {version: "7", percent: 5}`,
			[]string{`models.iris.shadow.version: "7" is not a version`, "the model needs another version to mirror from"}},
		{"unknown shadow fields are errors", `
  iris:
    versions: ["1", "2"]
    aliases: {latest: "1"}
    shadow: {version: "2", share: 5}`,
			[]string{"field share not found in a shadow"}},
		{"unknown model fields are errors", `
  iris:
    versions: ["1"]
    canary: 5`,
			[]string{"field canary not found in a model"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte("default_model: iris\nmodels:" + tc.models + "\n"))
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}
