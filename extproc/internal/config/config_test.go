package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/envoy/bootstrap"
	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/internal/settings"
	"github.com/modelgate/modelgate/internal/testutil"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad_developmentConfig(t *testing.T) {
	t.Parallel()
	c, err := config.Load("../../config.yaml", env(nil))
	require.NoError(t, err)
	require.Equal(t, ":9000", c.GRPCAddr)
	require.Equal(t, 300*time.Second, c.Cache.TTL)
	require.False(t, c.Cache.ShareAcrossClients)
	require.Equal(t, int64(1<<20), c.Limits.MaxBodyBytes)
	require.Equal(t, 1000, c.Limits.MaxRows)
	require.Len(t, c.Deprecations, 1)
	require.Equal(t, "/v1/predict", c.Deprecations[0].Path)
}

func TestLoad_envOverrides(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("cache: {ttl: 10s}\n"), 0o600))
	c, err := config.Load(path, env(map[string]string{
		"EXTPROC_GRPC_ADDR": "127.0.0.1:7000", "EXTPROC_CACHE_TTL": "1m", "EXTPROC_MAX_ROWS": "5",
		"EXTPROC_CACHE_SHARE_ACROSS_CLIENTS": "true", "EXTPROC_KEYS_FILE": "/k.yaml",
	}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7000", c.GRPCAddr)
	require.Equal(t, time.Minute, c.Cache.TTL, "env wins over the file")
	require.Equal(t, 5, c.Limits.MaxRows)
	require.True(t, c.Cache.ShareAcrossClients)
	require.Equal(t, "/k.yaml", c.KeysFile)
	require.Equal(t, ":9001", c.AdminAddr, "defaults fill the rest")
}

func TestLoad_reportsEveryEnvProblem(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := config.Load(path, env(map[string]string{
		"EXTPROC_CACHE_TTL": "soon", "EXTPROC_MAX_ROWS": "many", "EXTPROC_WATCH": "maybe",
	}))
	require.ErrorContains(t, err, "EXTPROC_CACHE_TTL")
	require.ErrorContains(t, err, "EXTPROC_MAX_ROWS")
	require.ErrorContains(t, err, "EXTPROC_WATCH")
}

func TestLoad_rejectsUnknownKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("cache: {ttl: 10s, size: 3}\n"), 0o600))
	_, err := config.Load(path, env(nil))
	require.ErrorContains(t, err, "field size not found")
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists.yaml")
	require.NoError(t, os.WriteFile(existing, nil, 0o600))
	valid := func() *config.Config {
		c := config.Default()
		c.Catalog, c.OpenAPI, c.KeysFile = existing, existing, existing
		return c
	}
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{name: "the defaults with existing files are valid", change: func(*config.Config) {}},
		{
			name: "reports every problem at once with its field path",
			change: func(c *config.Config) {
				c.GRPCAddr = "nine-thousand"
				c.Catalog = filepath.Join(dir, "missing.yaml")
				c.KeysFile = ""
				c.Cache.TTL = 0
				c.Cache.MaxEntryBytes = c.Cache.MaxBytes + 1
				c.Cache.CoalesceWait = time.Minute
				c.Limits.MaxBodyBytes = 0
				c.Limits.MaxRows = -1
				c.Log.Format = "xml"
				c.Log.Level = "loud"
				c.Shutdown.Timeout = 0
				c.Shutdown.DrainDelay = -time.Second
			},
			want: []string{
				`grpc_addr: "nine-thousand" is neither host:port nor unix:/path`,
				"catalog: stat ",
				"keys_file: required",
				"cache.ttl: must be positive",
				"cache.max_entry_bytes: must be positive and at most cache.max_bytes",
				"cache.coalesce_wait: must be between 0s and 10s",
				"limits.max_body_bytes: must be between 1 and",
				"limits.max_rows: must be positive",
				`log.format: "xml" is neither json nor text`,
				`log.level: "loud" is not debug, info, warn or error`,
				"shutdown.timeout: must be positive",
				"shutdown.drain_delay: must not be negative",
			},
		},
		{
			name:   "a unix socket path is a valid grpc_addr",
			change: func(c *config.Config) { c.GRPCAddr = "unix:/run/modelgate/extproc.sock" },
		},
		{
			name:   "a unix socket needs a path that fits",
			change: func(c *config.Config) { c.GRPCAddr = "unix:" },
			want:   []string{`grpc_addr: "unix:" names no socket path`},
		},
		{
			name:   "a unix socket path longer than the kernel allows",
			change: func(c *config.Config) { c.GRPCAddr = "unix:/" + strings.Repeat("s", 107) },
			want:   []string{"grpc_addr: socket path is 108 bytes, longer than the 107"},
		},
		{
			name:   "the same address twice",
			change: func(c *config.Config) { c.AdminAddr = c.GRPCAddr },
			want:   []string{"admin_addr: must differ from grpc_addr"},
		},
		{
			name: "deprecation rules are checked too",
			change: func(c *config.Config) {
				require.NoError(t, config.Decode(c, []byte("deprecations: [{path: v1, deprecated: 2026-01-01}]")))
			},
			want: []string{`deprecations[0].path: "v1" must start with /`},
		},
		{
			name: "a disabled cache is not checked",
			change: func(c *config.Config) {
				c.Cache.Enabled = false
				c.Cache.TTL = 0
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.change(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tt.want), err.Error())
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestSettings_documentEveryOverride(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range config.Settings() {
		if s.Env == "" {
			continue // YAML only (llm.max_tokens)
		}
		require.True(t, strings.HasPrefix(s.Env, "EXTPROC_"), s.Env)
		require.False(t, seen[s.Env], "listed twice: %s", s.Env)
		seen[s.Env] = true
	}
	require.GreaterOrEqual(t, len(seen), 19)
}

// TestDefault: the default tags parse (Default panics otherwise).
func TestDefault(t *testing.T) {
	t.Parallel()
	require.NotPanics(t, func() { config.Default() })
	require.Equal(t, 5*time.Minute, config.Default().Cache.TTL)
}

// TestSettings_documented keeps the READMEs' settings tables the ones the
// tags generate: go test ./extproc/internal/config -run TestSettings -update
func TestSettings_documented(t *testing.T) {
	t.Parallel()
	list := config.Settings()
	testutil.RequireBlock(t, "../../README.md", "extproc settings",
		settings.Table(list, settings.ColumnEnv, settings.ColumnKey, settings.ColumnDefault, settings.ColumnUsage))
	testutil.RequireBlock(t, "../../../README.md", "extproc settings",
		settings.Table(list, settings.ColumnEnv, settings.ColumnKey, settings.ColumnDefault))
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string][2]string{
		":9000":                  {"tcp", ":9000"},
		"127.0.0.1:9000":         {"tcp", "127.0.0.1:9000"},
		"unix:/tmp/extproc.sock": {"unix", "/tmp/extproc.sock"},
		"unix:run/extproc.sock":  {"unix", "run/extproc.sock"},
	} {
		network, address := config.ListenAddr(addr)
		require.Equal(t, want, [2]string{network, address}, addr)
	}
}

// TestJobsMaxBodyBytes_matchesEnvoy keeps the plugin's jobs body limit the
// one Envoy buffers on the jobs-unresolved route.
func TestJobsMaxBodyBytes_matchesEnvoy(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(bootstrap.JobsMaxBodyBytes), config.Default().Limits.JobsMaxBodyBytes)
}
