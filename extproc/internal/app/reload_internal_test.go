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
	src := configsource.NewPush[*config.Config]()
	done := make(chan error, 1)
	go func() { done <- live.follow(t.Context(), src) }()

	require.NoError(t, src.Send(t.Context(), &config.Config{Catalog: catalogAt("b.yaml", "  iris: {versions: [\"1\", \"2\"]}\n")}, nil))
	require.Eventually(t, func() bool { return len(live.Catalog().Models["iris"].Versions) == 2 },
		time.Second, 5*time.Millisecond, "a pushed configuration is applied")

	require.NoError(t, src.Send(t.Context(), nil, errors.New("rejected by the control plane")))
	require.NoError(t, src.Send(t.Context(), &config.Config{Catalog: filepath.Join(dir, "missing.yaml")}, nil))
	require.Len(t, live.Catalog().Models["iris"].Versions, 2, "a failed update keeps the configuration in force")

	src.Stop()
	require.EqualError(t, <-done, "configuration source stopped", "a source that ends unasked is a failure")
}
