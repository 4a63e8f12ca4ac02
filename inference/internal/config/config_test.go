package config

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/settings"
	"github.com/modelgate/modelgate/internal/testutil"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{
			name: "defaults serve everything",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, ":8000", c.Addr)
				require.Empty(t, c.Serve)
				require.Equal(t, 1000, c.MaxBatchRows)
				require.Equal(t, int64(1<<20), c.MaxBodyBytes)
				require.Equal(t, 15*time.Second, c.ShutdownTimeout)
				require.True(t, c.Watch)
			},
		},
		{
			name: "environment overrides defaults",
			env:  map[string]string{"INFERENCE_ADDR": ":9", "INFERENCE_SERVE": "iris:2, diabetes:latest"},
			check: func(t *testing.T, c *Config) {
				require.Equal(t, ":9", c.Addr)
				require.Equal(t, []Selection{{"iris", "2"}, {"diabetes", "latest"}}, c.Serve)
			},
		},
		{
			name:  "flags win over the environment",
			args:  []string{"--addr", ":7"},
			env:   map[string]string{"INFERENCE_ADDR": ":9"},
			check: func(t *testing.T, c *Config) { require.Equal(t, ":7", c.Addr) },
		},
		{
			name:    "every invalid value is reported at once",
			args:    []string{"--serve", "iris", "--max-batch-rows", "-1", "--log-format", "xml", "--shutdown-timeout", "soon"},
			wantErr: []string{"serve:", "max-batch-rows:", "log-format:", "shutdown-timeout:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != nil {
				for _, w := range tc.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

// TestSettings_documented keeps the README's settings table the one the
// tags generate: go test ./inference/internal/config -run TestSettings -update
func TestSettings_documented(t *testing.T) {
	t.Parallel()
	list, err := Settings()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, s := range list {
		require.False(t, seen[s.Flag], "listed twice: %s", s.Flag)
		seen[s.Flag] = true
		if s.Env != "" {
			require.True(t, strings.HasPrefix(s.Env, "INFERENCE_"), s.Env)
		}
	}
	testutil.RequireBlock(t, "../../../README.md", "inference settings",
		settings.Table(list, settings.ColumnFlag, settings.ColumnEnv, settings.ColumnDefault, settings.ColumnUsage))
}
