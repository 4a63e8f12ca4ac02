package app

import (
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

// reloader rebuilds the registry on SIGHUP or file change and swaps it in
// only when the new catalog loads completely; in-flight requests keep the
// registry they started with.
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

func (r *reloader) reload(trigger string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, err := registry.LoadWith(r.cfg.Catalog, r.cfg.Serve, r.opts)
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

// startWatch registers the catalog folders before returning, so no change
// made after the server is up can be missed, then reloads on changes in the
// background until ctx ends.
func (r *reloader) startWatch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	root := filepath.Dir(r.cfg.Catalog)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if err := w.Add(p); err != nil {
				r.log.Warn("cannot watch folder", slog.String("path", p), slog.String("error", err.Error()))
			}
		}
		return nil
	})
	go func() {
		defer func() { _ = w.Close() }()
		r.watch(ctx, w)
	}()
	return nil
}

// watch reloads after file changes under the catalog's folder, debounced so
// that a training run writing many files triggers one reload.
func (r *reloader) watch(ctx context.Context, w *fsnotify.Watcher) {
	const debounce = 250 * time.Millisecond
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				_ = w.Add(ev.Name) // new version folders; errors for plain files are expected
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(debounce, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		case <-fire:
			r.reload("file change")
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			r.log.Warn("catalog watch error", slog.String("error", err.Error()))
		}
	}
}
