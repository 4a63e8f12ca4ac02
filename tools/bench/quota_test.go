package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	ratelimitconfig "github.com/modelgate/modelgate/ratelimit-config"
	"github.com/modelgate/modelgate/tools/stack"
)

func TestWriteRateLimitConfig(t *testing.T) {
	t.Parallel()
	root, err := stack.RepoRoot(".")
	require.NoError(t, err)
	t.Run("gives the bench client enforced limits and keeps internal unlimited", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, writeRateLimitConfig(root, dir))
		c, err := ratelimitconfig.Load(filepath.Join(dir, rateLimitRoot, rateLimitSubdir, "config"))
		require.NoError(t, err)
		require.NoError(t, checkRules(c))
		// The shipped rules still apply to everyone else.
		l, ok := c.Lookup("quota", "client_second", "tier", limitedTier, "client", "someone")
		require.True(t, ok)
		require.True(t, l.ShadowMode, "%v", l)
	})
	t.Run("rejects a config without the pro tier", func(t *testing.T) {
		t.Parallel()
		_, err := addLimitedRules([]byte("domain: modelgate\ndescriptors:\n  - key: quota\n    value: client_minute\n"))
		require.ErrorContains(t, err, "no tier pro under quota")
	})
	t.Run("check fails on the shipped config", func(t *testing.T) {
		t.Parallel()
		c, err := ratelimitconfig.Load(filepath.Join(root, ratelimitconfig.Dir))
		require.NoError(t, err)
		require.ErrorContains(t, checkRules(c), "client "+limitedClient)
	})
}

func TestCheckLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		limit, remaining string
		wantErr          string
	}{
		{name: "accepts a counted request under the bench limit", limit: "1000000000, 1000000000;w=60", remaining: "999999998"},
		{name: "rejects an answer without quota headers", wantErr: "no limit applied"},
		{name: "rejects the shipped pro limit", limit: "1200, 1200;w=60", remaining: "1199", wantErr: "want the bench's"},
		{name: "rejects a request that was not counted", limit: "1000000000, 1000000000;w=1", remaining: "1000000000", wantErr: "below the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.limit != "" {
				h.Set(header.RateLimitLimit, tc.limit)
			}
			if tc.remaining != "" {
				h.Set(header.RateLimitRemaining, tc.remaining)
			}
			err := checkLimited(h)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
