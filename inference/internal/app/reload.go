package app

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/registry"
	"github.com/modelgate/modelgate/internal/configsource"
)

// catalogDebounce is how quiet the catalog folder must be before a
// reload: a training run writing many files triggers one.
const catalogDebounce = 250 * time.Millisecond

// reloader swaps in the registry of each catalog update, only when the
// new catalog loads completely; in-flight requests keep the registry they
// started with. Where updates come from (the catalog folder and SIGHUP
// today) is the source's business.
type reloader struct {
	cfg     *config.Config
	opts    registry.Options
	current *atomic.Pointer[registry.Registry]
	log     *slog.Logger
	count   metric.Int64Counter
	mu      sync.Mutex
}

func newReloader(cfg *config.Config, opts registry.Options, current *atomic.Pointer[registry.Registry], log *slog.Logger, meter metric.Meter) (*reloader, error) {
	c, err := meter.Int64Counter("modelgate.inference.catalog.reloads", metric.WithUnit("{reload}"),
		metric.WithDescription("Catalog reload attempts by result."))
	if err != nil {
		return nil, err
	}
	return &reloader{cfg: cfg, opts: opts, current: current, log: log, count: c}, nil
}

// load reads the catalog and the versions to serve: the Load of every
// update of the file source.
func (r *reloader) load() (*registry.Registry, error) {
	return registry.LoadWith(r.cfg.Catalog, r.cfg.Serve, r.opts)
}

// newSource starts the catalog's file source: SIGHUP always, and with
// --watch any change under the catalog's folder, new version folders
// included. A watch that cannot start leaves SIGHUP.
func (r *reloader) newSource() (configsource.Source[*registry.Registry], error) {
	cfg := configsource.FileConfig[*registry.Registry]{
		Paths: []string{r.cfg.Catalog}, Watch: r.cfg.Watch, Tree: true,
		Relevant: func(string) bool { return true }, Load: r.load, Debounce: catalogDebounce, Logger: r.log,
	}
	src, err := configsource.NewFile(cfg)
	if err != nil && cfg.Watch {
		r.log.Error("catalog watch unavailable; SIGHUP still reloads", slog.String("error", err.Error()))
		cfg.Watch = false
		src, err = configsource.NewFile(cfg)
	}
	return src, err
}

// follow applies the updates of src until ctx is done; a source that ends
// unasked is a failure.
func (r *reloader) follow(ctx context.Context, src configsource.Source[*registry.Registry]) error {
	return configsource.Follow(ctx, src, func(_ context.Context, u configsource.Update[*registry.Registry]) {
		trigger := "file change"
		if u.Requested {
			trigger = "sighup"
		}
		r.apply(u, trigger)
	})
}

// apply swaps in the registry an update carries; a bad one keeps the
// registry in force and is logged and counted.
func (r *reloader) apply(u configsource.Update[*registry.Registry], trigger string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, err := u.Load()
	if err != nil {
		r.count.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", "rejected")))
		r.log.Error("catalog reload rejected; keeping the previous catalog",
			slog.String("trigger", trigger), slog.String("error", err.Error()))
		return false
	}
	r.current.Store(reg)
	r.count.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", "applied")))
	r.log.Info("catalog reloaded", slog.String("trigger", trigger), slog.Any("versions", reg.Served()))
	return true
}
