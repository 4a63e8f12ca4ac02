package deprecation_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/extproc/internal/deprecation"
)

func table(t *testing.T, src string) *deprecation.Table {
	t.Helper()
	var rules []deprecation.Rule
	require.NoError(t, yaml.Unmarshal([]byte(src), &rules))
	tb, err := deprecation.New(rules)
	require.NoError(t, err)
	return tb
}

func TestTable_Lookup(t *testing.T) {
	t.Parallel()
	tb := table(t, `
- {path: /v1/predict, deprecated: 2026-01-01, sunset: 2027-06-30T23:59:59Z, link: "https://docs.modelgate.dev/migrate-v1"}
- {path: /v1/*, deprecated: 2026-01-01}
- {path: /v1/legacy/*, deprecated: 2026-02-01, reject_after_sunset: false}
`)
	p := tb.Lookup("/v1/predict")
	require.NotNil(t, p)
	require.Equal(t, []deprecation.Header{
		{Name: "deprecation", Value: "@1767225600"},
		{Name: "sunset", Value: "Wed, 30 Jun 2027 23:59:59 GMT"},
		{Name: "link", Value: `<https://docs.modelgate.dev/migrate-v1>; rel="deprecation"; type="text/html"`},
	}, p.Headers())
	require.Equal(t, "/v1/", tb.Lookup("/v1/other").Path)
	require.Equal(t, "/v1/legacy/", tb.Lookup("/v1/legacy/x").Path, "longest prefix wins")
	require.Nil(t, tb.Lookup("/v2/predict"))
	require.Nil(t, (*deprecation.Table)(nil).Lookup("/v1/predict"))
}

func TestPolicy_Check(t *testing.T) {
	t.Parallel()
	tb := table(t, `
- {path: /a, deprecated: 2026-01-01, sunset: 2026-07-01}
- {path: /b, deprecated: 2026-01-01, sunset: 2026-07-01, reject_after_sunset: false}
- {path: /c, deprecated: 2026-01-01}
`)
	before := time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)
	after := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, tb.Lookup("/a").Check(before), "served until the sunset")
	var se *deprecation.SunsetError
	require.ErrorAs(t, tb.Lookup("/a").Check(after), &se, "gone from the sunset on")
	require.NoError(t, tb.Lookup("/b").Check(after), "410 can be switched off")
	require.NoError(t, tb.Lookup("/c").Check(after.AddDate(10, 0, 0)), "no sunset scheduled")
}

func TestNew_reportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := deprecation.New([]deprecation.Rule{
		{Path: "v1", Link: "ftp://x"},
		{Path: "/a", Deprecated: time.Unix(100, 0), Sunset: time.Unix(50, 0)},
		{Path: "/b", Deprecated: time.Unix(100, 0)},
		{Path: "/b", Deprecated: time.Unix(100, 0)},
	})
	for _, want := range []string{
		`deprecations[0].path: "v1" must start with /`,
		"deprecations[0].deprecated: required",
		`deprecations[0].link: "ftp://x" is not an absolute http(s) URL`,
		"deprecations[1].sunset: must not be earlier than deprecated",
		`deprecations[3].path: "/b" is listed twice`,
	} {
		require.ErrorContains(t, err, want)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("- {path: /v1/predict, deprecated: 2026-01-01, sunset: 2027-01-01, link: 'https://x.dev/a'}")
	f.Add("- {path: /v1/*, deprecated: 2026-01-01T10:00:00+02:00}")
	f.Fuzz(func(t *testing.T, src string) {
		var rules []deprecation.Rule
		if yaml.Unmarshal([]byte(src), &rules) != nil {
			return
		}
		tb, err := deprecation.New(rules)
		if err != nil {
			return
		}
		for _, r := range rules {
			p := tb.Lookup(r.Path)
			if p == nil && len(r.Path) > 0 && r.Path[len(r.Path)-1] != '*' {
				t.Fatalf("rule for %q not found", r.Path)
			}
			if p != nil && len(p.Headers()) == 0 {
				t.Fatal("policy without headers")
			}
		}
	})
}
