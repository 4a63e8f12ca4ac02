package bootstrap

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueryAllowGroups(t *testing.T) {
	t.Parallel()
	groups, err := queryAllowGroups()
	require.NoError(t, err)
	allowOf := func(path string) []string {
		var out []string
		for _, g := range groups {
			if regexp.MustCompile(g.Regex).MatchString(path) {
				out = append(out, g.Allow)
			}
		}
		return out
	}
	require.Equal(t, []string{"GET, HEAD"}, allowOf("/v2/models/iris/versions/stable"))
	require.Equal(t, []string{"GET, HEAD"}, allowOf("/openapi.json?x=1"))
	require.Equal(t, []string{"POST"}, allowOf("/v2/models/iris/versions/2/infer"))
	require.Equal(t, []string{"POST"}, allowOf("/v1/predict"))
	require.Empty(t, allowOf("/openapiXjson"), "a dot is matched as itself")
	require.Empty(t, allowOf("/v2/models/iris/infer/more"))
	require.Empty(t, allowOf("/nowhere"))
}
