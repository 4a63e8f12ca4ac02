package settings_test

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/settings"
)

type level string

func (l *level) UnmarshalText(b []byte) error {
	if string(b) != "low" && string(b) != "high" {
		return errorString("neither low nor high")
	}
	*l = level(b)
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

type example struct {
	Addr    string         `yaml:"addr" env:"EX_ADDR" flag:"addr" default:":80" usage:"listen address"`
	Watch   bool           `yaml:"watch" env:"EX_WATCH" flag:"watch" default:"true" usage:"watch files"`
	Secret  string         `yaml:"-" env:"EX_SECRET" usage:"a secret"`
	Check   bool           `yaml:"-" flag:"check" usage:"check and exit"`
	Rules   []int          `yaml:"rules"` // not listed
	Tiers   map[string]int `yaml:"tiers" usage:"cap per tier"`
	Nested  nested         `yaml:"cache"`
	Ignored time.Duration  `yaml:"ignored"`
}

type nested struct {
	TTL   time.Duration `yaml:"ttl" env:"EX_TTL" default:"300s" usage:"entry lifetime"`
	Max   int64         `yaml:"max" env:"EX_MAX" default:"1024" usage:"bytes"`
	Hosts []string      `yaml:"hosts" env:"EX_HOSTS" usage:"allowed hosts"`
	Level level         `yaml:"level" env:"EX_LEVEL" default:"low" usage:"level"`
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults_FromEnv_Flags(t *testing.T) {
	t.Parallel()
	var c example
	require.NoError(t, settings.Defaults(&c))
	require.Equal(t, example{Addr: ":80", Watch: true, Nested: nested{TTL: 300 * time.Second, Max: 1024, Level: "low"}}, c)

	t.Run("the environment overrides defaults", func(t *testing.T) {
		c := c
		require.NoError(t, settings.FromEnv(&c, env(map[string]string{"EX_ADDR": ":81", "EX_HOSTS": "a, b,", "EX_LEVEL": "high"})))
		require.Equal(t, ":81", c.Addr)
		require.Equal(t, []string{"a", "b"}, c.Nested.Hosts)
		require.Equal(t, level("high"), c.Nested.Level)
	})
	t.Run("every bad variable is reported by name", func(t *testing.T) {
		c := c
		err := settings.FromEnv(&c, env(map[string]string{"EX_TTL": "soon", "EX_MAX": "many", "EX_WATCH": "maybe", "EX_LEVEL": "mid"}))
		require.ErrorContains(t, err, `EX_TTL: "soon" is not a duration (such as 300s)`)
		require.ErrorContains(t, err, `EX_MAX: "many" is not an integer`)
		require.ErrorContains(t, err, `EX_WATCH: "maybe" is not a boolean`)
		require.ErrorContains(t, err, `EX_LEVEL: "mid": neither low nor high`)
	})
	t.Run("flags win and every bad flag is reported by name", func(t *testing.T) {
		c := c
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		apply, err := settings.Flags(fs, &c)
		require.NoError(t, err)
		require.NoError(t, fs.Parse([]string{"--addr", ":82", "--check", "--watch", "false"}))
		require.NoError(t, apply())
		require.Equal(t, ":82", c.Addr)
		require.True(t, c.Check, "a flag-only switch stands alone")
		require.False(t, c.Watch, "a boolean with a variable takes a value")

		require.NoError(t, fs.Parse([]string{"--watch=perhaps", "--check=no"}))
		err = apply()
		require.ErrorContains(t, err, `watch: "perhaps" is not a boolean`)
		require.ErrorContains(t, err, `check: "no" is not a boolean`)
	})
}

func TestList_Table(t *testing.T) {
	t.Parallel()
	var c example
	require.NoError(t, settings.Defaults(&c))
	list, err := settings.List(&c)
	require.NoError(t, err)
	require.Equal(t, []settings.Setting{
		{Env: "EX_ADDR", Flag: "addr", Key: "addr", Default: ":80", Usage: "listen address"},
		{Env: "EX_WATCH", Flag: "watch", Key: "watch", Default: "true", Usage: "watch files"},
		{Env: "EX_SECRET", Key: "-", Usage: "a secret"},
		{Flag: "check", Key: "-", Default: "false", Usage: "check and exit"},
		{Key: "tiers", Usage: "cap per tier"},
		{Env: "EX_TTL", Key: "cache.ttl", Default: "5m0s", Usage: "entry lifetime"},
		{Env: "EX_MAX", Key: "cache.max", Default: "1024", Usage: "bytes"},
		{Env: "EX_HOSTS", Key: "cache.hosts", Usage: "allowed hosts"},
		{Env: "EX_LEVEL", Key: "cache.level", Default: "low", Usage: "level"},
	}, list)
	require.Equal(t, "| env | YAML key | default | meaning |\n|---|---|---|---|\n"+
		"| `EX_ADDR` | `addr` | `:80` | listen address |\n"+
		"| `EX_SECRET` | `(env only)` | `(unset)` | a secret |\n",
		settings.Table([]settings.Setting{list[0], list[2]}, settings.ColumnEnv, settings.ColumnKey, settings.ColumnDefault, settings.ColumnUsage))
	require.Equal(t, "| flag | env | meaning |\n|---|---|---|\n| `--check` |  | check and exit |\n",
		settings.Table(list[3:4], settings.ColumnFlag, settings.ColumnEnv, settings.ColumnUsage))
	require.Equal(t, "| env | YAML key | default |\n|---|---|---|\n| (YAML only) | `tiers` | `(unset)` |\n",
		settings.Table(list[4:5], settings.ColumnEnv, settings.ColumnKey, settings.ColumnDefault))
}

func TestFields_refuseWhatCannotBeSet(t *testing.T) {
	t.Parallel()
	var c struct {
		M map[string]int `env:"EX_M"`
	}
	require.ErrorContains(t, settings.Defaults(&c), "cannot be set from text")
	require.ErrorContains(t, settings.Defaults(c), "want a pointer to a struct")
	var bad struct {
		N int `env:"EX_N" default:"ten"`
	}
	require.ErrorContains(t, settings.Defaults(&bad), `default of EX_N: "ten" is not an integer`)
}
