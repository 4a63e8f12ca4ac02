package app

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/modelgate/modelgate/extproc/internal/config"
	"github.com/modelgate/modelgate/internal/configsource"
)

// pushSource is a source that hands over configurations it is given, as
// a control plane would: no files, no signals.
type pushSource struct {
	ch chan configsource.Update[*config.Config]
}

func (s pushSource) Updates() <-chan configsource.Update[*config.Config] { return s.ch }
func (s pushSource) Stop()                                               {}

func (s pushSource) push(cfg *config.Config, err error) {
	s.ch <- configsource.Update[*config.Config]{Load: func() (*config.Config, error) { return cfg, err }}
}

func TestLiveConfig_followsAnySource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	catalogAt := func(name, models string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("default_model: iris\nmodels:\n"+models), 0o600))
		return p
	}
	first := &config.Config{Catalog: catalogAt("a.yaml", "  iris: {versions: [\"1\"]}\n")}
	live, err := newLiveConfig(filepath.Join(dir, "config.yaml"), first, func(string) string { return "" },
		slog.New(slog.DiscardHandler), noop.NewMeterProvider().Meter(""))
	require.NoError(t, err)
	src := pushSource{ch: make(chan configsource.Update[*config.Config])}
	done := make(chan error, 1)
	go func() { done <- live.follow(t.Context(), src) }()

	src.push(&config.Config{Catalog: catalogAt("b.yaml", "  iris: {versions: [\"1\", \"2\"]}\n")}, nil)
	require.Eventually(t, func() bool { return len(live.Catalog().Models["iris"].Versions) == 2 },
		time.Second, 5*time.Millisecond, "a pushed configuration is applied")

	src.push(nil, errors.New("rejected by the control plane"))
	src.push(&config.Config{Catalog: filepath.Join(dir, "missing.yaml")}, nil)
	require.Len(t, live.Catalog().Models["iris"].Versions, 2, "a failed update keeps the configuration in force")

	close(src.ch)
	require.EqualError(t, <-done, "configuration source stopped", "a source that ends unasked is a failure")
}
