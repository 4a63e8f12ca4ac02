package app

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/configsource"
)

// pushSource hands over registries it is given, as a control plane would:
// no files, no signals.
type pushSource struct {
	ch chan configsource.Update[*registry.Registry]
}

func (s pushSource) Updates() <-chan configsource.Update[*registry.Registry] { return s.ch }
func (s pushSource) Stop()                                                   {}

func (s pushSource) push(reg *registry.Registry, err error) {
	s.ch <- configsource.Update[*registry.Registry]{Load: func() (*registry.Registry, error) { return reg, err }}
}

func TestReloader_followsAnySource(t *testing.T) {
	t.Parallel()
	const catalog = "../../../models/catalog.yaml"
	first, err := registry.Load(catalog, []config.Selection{{Model: "iris", Version: "1"}})
	require.NoError(t, err)
	second, err := registry.Load(catalog, nil)
	require.NoError(t, err)
	var current atomic.Pointer[registry.Registry]
	current.Store(first)
	r, err := newReloader(&config.Config{Catalog: catalog}, &current, slog.New(slog.DiscardHandler), noop.NewMeterProvider().Meter(""))
	require.NoError(t, err)
	src := pushSource{ch: make(chan configsource.Update[*registry.Registry])}
	done := make(chan error, 1)
	go func() { done <- r.follow(t.Context(), src) }()

	src.push(second, nil)
	require.Eventually(t, func() bool { return current.Load() == second }, time.Second, 5*time.Millisecond,
		"a pushed registry is swapped in")
	src.push(nil, errors.New("rejected by the control plane"))
	src.push(second, nil) // the rejected one was handled before this is taken
	require.Same(t, second, current.Load(), "a failed update keeps the registry in force")

	close(src.ch)
	require.ErrorIs(t, <-done, configsource.ErrStopped, "a source that ends unasked is a failure")
}
