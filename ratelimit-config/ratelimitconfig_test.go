package ratelimitconfig_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	ratelimitconfig "github.com/modelgate/modelgate/ratelimit-config"
)

func TestLoad_shippedConfig(t *testing.T) {
	t.Parallel()
	c, err := ratelimitconfig.Load("config")
	require.NoError(t, err)
	require.Equal(t, []string{ratelimitconfig.Domain}, c.Domains, "one file, domain modelgate")

	tests := []struct {
		name       string
		descriptor []string
		want       string // Limit.String(); "" means no rule applies
	}{
		{"free client per minute", []string{"quota", "client_minute", "tier", "free", "client", "c1"}, "modelgate.quota_client_minute.tier_free.client 60/MINUTE"},
		{"free client per second", []string{"quota", "client_second", "tier", "free", "client", "c1"}, "modelgate.quota_client_second.tier_free.client 5/SECOND"},
		{"pro client per minute", []string{"quota", "client_minute", "tier", "pro", "client", "c2"}, "modelgate.quota_client_minute.tier_pro.client 1200/MINUTE"},
		{"per-client exception beats the tier default", []string{"quota", "client_minute", "tier", "pro", "client", "acme-batch"}, "modelgate.quota_client_minute.tier_pro.client_acme-batch 6000/MINUTE"},
		{"pro per-second rule is in shadow mode", []string{"quota", "client_second", "tier", "pro", "client", "c2"}, "modelgate.quota_client_second.tier_pro.client 50/SECOND (shadow)"},
		{"internal tier is unlimited per minute", []string{"quota", "client_minute", "tier", "internal", "client", "ops"}, "modelgate.quota_client_minute.tier_internal.client unlimited"},
		{"internal tier is unlimited per second", []string{"quota", "client_second", "tier", "internal", "client", "ops"}, "modelgate.quota_client_second.tier_internal.client unlimited"},
		{"free client per model version", []string{"quota", "client_model", "tier", "free", "client", "c1", "model", "iris", "version", "2"}, "modelgate.quota_client_model.tier_free.client.model.version 30/MINUTE"},
		{"free client on the expensive model", []string{"quota", "client_model", "tier", "free", "client", "c1", "model", "diabetes", "version", "1"}, "modelgate.quota_client_model.tier_free.client.model_diabetes.version 10/MINUTE"},
		{"pro client per model version", []string{"quota", "client_model", "tier", "pro", "client", "c2", "model", "iris", "version", "1"}, "modelgate.quota_client_model.tier_pro.client.model.version 600/MINUTE"},
		{"internal client per model version", []string{"quota", "client_model", "tier", "internal", "client", "ops", "model", "iris", "version", "1"}, "modelgate.quota_client_model.tier_internal.client.model.version unlimited"},
		{"free client tokens per minute", []string{"quota", "tokens_minute", "tier", "free", "client", "c1"}, "modelgate.quota_tokens_minute.tier_free.client 2000/MINUTE"},
		{"free client tokens per day", []string{"quota", "tokens_day", "tier", "free", "client", "c1"}, "modelgate.quota_tokens_day.tier_free.client 20000/DAY"},
		{"free client tokens per model per minute", []string{"quota", "model_tokens_minute", "tier", "free", "client", "c1", "model", "scribe"}, "modelgate.quota_model_tokens_minute.tier_free.client.model 1500/MINUTE"},
		{"internal tokens are unlimited", []string{"quota", "tokens_day", "tier", "internal", "client", "ops"}, "modelgate.quota_tokens_day.tier_internal.client unlimited"},
		{"unknown tier is not limited", []string{"quota", "client_minute", "tier", "gold", "client", "c1"}, ""},
		{"descriptor deeper than the tree is not limited", []string{"quota", "client_minute", "tier", "free", "client", "c1", "extra", "x"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.Lookup(tc.descriptor...)
			if tc.want == "" {
				require.False(t, ok, "want no rule, got %s", got)
				return
			}
			require.True(t, ok, "want %s, got no rule", tc.want)
			require.Equal(t, tc.want, got.String())
		})
	}
}

func TestLoad_rejectsBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		wantErr string
	}{
		{"bad_unit.yaml", "invalid rate limit unit"},
		{"unlimited_with_unit.yaml", "should not specify rate limit unit when unlimited"},
		{"duplicate_key.yaml", "duplicate descriptor composite key"},
		{"unknown_field.yaml", "config error, unknown key 'rate_limits'"},
		{"float_limit.yaml", "error checking config"},
	}
	for _, tc := range tests {
		t.Run("rejects "+tc.fixture, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			b, err := os.ReadFile(filepath.Join("testdata", tc.fixture))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, tc.fixture), b, 0o600))
			_, err = ratelimitconfig.Load(dir)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestLoad_rejectsSameDomainTwice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("config", "modelgate.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), b, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yaml"), b, 0o600))
	_, err = ratelimitconfig.Load(dir)
	require.ErrorContains(t, err, "duplicate domain")
}

func TestLoad_skipsDotFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("config", "modelgate.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "modelgate.yaml"), b, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".modelgate.yaml.swp"), []byte("\x00garbage"), 0o600))
	_, err = ratelimitconfig.Load(dir)
	require.NoError(t, err)
}
