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

func TestReloader_followsAnySource(t *testing.T) {
	t.Parallel()
	const catalog = "../../../models/catalog.yaml"
	first, err := registry.Load(catalog, []config.Selection{{Model: "iris", Version: "1"}})
	require.NoError(t, err)
	second, err := registry.Load(catalog, nil)
	require.NoError(t, err)
	var current atomic.Pointer[registry.Registry]
	current.Store(first)
	r, err := newReloader(&config.Config{Catalog: catalog}, registry.Options{}, &current, slog.New(slog.DiscardHandler), noop.NewMeterProvider().Meter(""))
	require.NoError(t, err)
	src := configsource.NewPush[*registry.Registry]()
	done := make(chan error, 1)
	go func() { done <- r.follow(t.Context(), src) }()

	require.NoError(t, src.Send(t.Context(), second, nil))
	require.Eventually(t, func() bool { return current.Load() == second }, time.Second, 5*time.Millisecond,
		"a pushed registry is swapped in")
	require.NoError(t, src.Send(t.Context(), nil, errors.New("rejected by the control plane")))
	require.NoError(t, src.Send(t.Context(), second, nil)) // the rejected one was handled before this is taken
	require.Same(t, second, current.Load(), "a failed update keeps the registry in force")

	src.Stop()
	require.ErrorIs(t, <-done, configsource.ErrStopped, "a source that ends unasked is a failure")
}
