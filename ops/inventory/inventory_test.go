package inventory_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/ops"
	"github.com/modelgate/modelgate/ops/inventory"
)

// assets returns every expression of the shipped rules and dashboard, and
// the names the rules record.
func assets(t *testing.T) (exprs []inventory.Expr, records map[string]bool) {
	t.Helper()
	records = map[string]bool{}
	for _, name := range ops.RuleFileNames() {
		b, err := ops.ReadRules(name)
		require.NoError(t, err)
		rs, err := inventory.Rules(name, b)
		require.NoError(t, err)
		require.NotEmpty(t, rs.Exprs, name)
		for _, r := range rs.Records {
			require.False(t, records[r], "%s recorded twice", r)
			records[r] = true
		}
		exprs = append(exprs, rs.Exprs...)
	}
	b, err := ops.Dashboard()
	require.NoError(t, err)
	panels, err := inventory.Dashboard(b)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(panels), 15, "every panel's queries")
	return append(exprs, panels...), records
}

func known(t *testing.T, records map[string]bool) map[string]bool {
	t.Helper()
	entries, err := inventory.Shipped()
	require.NoError(t, err)
	k := maps.Clone(records)
	for _, e := range entries {
		require.False(t, records[e.Name], "%s is recorded by a rule, not a raw metric", e.Name)
		k[e.Name] = true
	}
	return k
}

// TestAssets_queriesParseAndNameMetricsThatExist is the dashboard query
// check: every rule and panel expression parses with Prometheus's parser,
// and every metric it reads is recorded by a rule or in the inventory.
func TestAssets_queriesParseAndNameMetricsThatExist(t *testing.T) {
	t.Parallel()
	exprs, records := assets(t)
	used := map[string]bool{}
	require.NoError(t, inventory.Unknown(exprs, known(t, records), used))

	// And the inventory lists nothing that nothing uses.
	entries, err := inventory.Shipped()
	require.NoError(t, err)
	for _, e := range entries {
		require.True(t, used[e.Name], "%s (%s) is listed in metrics.txt but no rule or panel uses it", e.Name, e.Kind)
	}
	// Every recorded name the dashboard shows is one the rules make.
	b, err := ops.Dashboard()
	require.NoError(t, err)
	panels, err := inventory.Dashboard(b)
	require.NoError(t, err)
	dashUsed := map[string]bool{}
	require.NoError(t, inventory.Unknown(panels, known(t, records), dashUsed))
	for _, want := range []string{
		"gateway:modelgate_request_duration_seconds:p95_rate5m", "gateway:modelgate_request_errors:ratio_rate5m",
		"model_version:modelgate_version_mix:ratio_rate5m", "model:modelgate_cache_hits:ratio_rate5m",
		"model_version:gen_ai_client_token_usage:rate5m",
	} {
		require.True(t, dashUsed[want], "the dashboard shows %s", want)
	}
}

func TestUnknown_reportsWhatIsWrong(t *testing.T) {
	t.Parallel()
	k := map[string]bool{"up": true, "a_total": true}
	tests := []struct {
		name, expr, wantErr string
	}{
		{"accepts known names", `sum by (job) (rate(a_total[5m])) / on (job) up`, ""},
		{"accepts a name given as __name__", `{__name__="a_total", job="x"}`, ""},
		{"rejects a syntax error", `sum(rate(a_total[5m])`, "unclosed left parenthesis"},
		{"rejects an unknown metric", `rate(a_totl[5m])`, "metric a_totl is neither recorded"},
		{"rejects a range where Grafana would substitute nothing", `rate(a_total[$interval])`, "bad"},
		{"rejects a query that names no metric", `{job="x"}`, "selects no metric by name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := inventory.Unknown([]inventory.Expr{{Where: "t", Expr: tc.expr}}, k, map[string]bool{})
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestDashboard_readsPanelsRowsAndVariables(t *testing.T) {
	t.Parallel()
	b := []byte(`{"panels":[
	  {"title":"p","type":"timeseries","targets":[{"refId":"A","expr":"rate(x_total[$__rate_interval])"}]},
	  {"title":"r","type":"row","panels":[{"title":"nested","type":"stat","targets":[{"refId":"B","expr":"y"}]}]}],
	  "templating":{"list":[{"name":"model","type":"query","definition":"label_values(z{a=\"$b\"}, model)"},{"name":"ds","type":"datasource"}]}}`)
	exprs, err := inventory.Dashboard(b)
	require.NoError(t, err)
	var got []string
	for _, e := range exprs {
		got = append(got, e.Expr)
	}
	require.Equal(t, []string{"rate(x_total[5m])", "y", `z{a="$b"}`}, got)

	_, err = inventory.Dashboard([]byte(`{"panels":[{"title":"empty","type":"stat"}]}`))
	require.ErrorContains(t, err, `panel "empty" has no queries`)
}

func TestLoad_refusesMalformedLines(t *testing.T) {
	t.Parallel()
	_, err := inventory.Load([]byte("a scraped\nb sometimes\nc\na pending\n"))
	require.ErrorContains(t, err, `kind "sometimes"`)
	require.ErrorContains(t, err, "line 3")
	require.ErrorContains(t, err, "a listed twice")
	entries, err := inventory.Shipped()
	require.NoError(t, err)
	kinds := map[inventory.Kind]int{}
	for _, e := range entries {
		kinds[e.Kind]++
	}
	require.Positive(t, kinds[inventory.Scraped])
	require.True(t, slices.ContainsFunc(entries, func(e inventory.Entry) bool {
		return e.Name == "gen_ai_client_token_usage_sum" && e.Kind == inventory.Scraped
	}))
}
