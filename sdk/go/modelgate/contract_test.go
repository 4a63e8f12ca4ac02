package modelgate_test

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/sdk/go/modelgate"
)

// pending are operations the client calls that api/openapi.yaml does not
// list yet: the jobs API (issue 10) and the Open Inference Protocol server
// and readiness routes the inference service serves.
var pending = map[string]bool{
	"POST /v2/jobs": true, "GET /v2/jobs": true, "GET /v2/jobs/{}": true, "POST /v2/jobs/{}/cancel": true,
	"GET /v2/jobs/{}/deliveries": true, "POST /v2/jobs/{}/deliveries/{}/redeliver": true,
	"GET /v2": true, "GET /v2/health/live": true, "GET /v2/health/ready": true,
	"GET /v2/models/{}/ready": true, "GET /v2/models/{}/versions/{}/ready": true,
}

var param = regexp.MustCompile(`\{[^}]+\}`)

func norm(op string) string { return param.ReplaceAllString(op, "{}") }

func TestOperations_matchOpenAPI(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../api/openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	spec := map[string]bool{}
	for p, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "post", "put", "patch", "delete":
				spec[norm(strings.ToUpper(m)+" "+p)] = true
			}
		}
	}
	table := map[string]string{}
	for op, name := range modelgate.Operations {
		table[norm(op)] = name
	}
	var missing, undocumented []string
	for op := range spec {
		if _, ok := table[op]; !ok {
			missing = append(missing, op)
		}
	}
	for op := range table {
		if !spec[op] && !pending[op] {
			undocumented = append(undocumented, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(undocumented)
	require.Empty(t, missing, "operations in api/openapi.yaml with no client method")
	require.Empty(t, undocumented, "client methods whose operation api/openapi.yaml lacks")

	ct := reflect.TypeFor[*modelgate.Client]()
	listed := map[string]bool{}
	for _, name := range modelgate.Operations {
		listed[name] = true
	}
	for name := range modelgate.Helpers {
		listed[name] = true
	}
	for name := range listed {
		_, ok := ct.MethodByName(name)
		require.True(t, ok, name)
	}
	for i := range ct.NumMethod() {
		require.True(t, listed[ct.Method(i).Name], "method %s is in neither Operations nor Helpers", ct.Method(i).Name)
	}
}
