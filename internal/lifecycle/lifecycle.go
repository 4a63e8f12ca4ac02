// Package lifecycle stops servers the same way in every service: report not
// ready, wait the drain delay so the load balancer (Envoy) moves traffic
// away, let each server finish its in-flight work within a timeout, close
// it when it does not, and log every failure without returning early.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config bounds a shutdown.
type Config struct {
	// DrainDelay is how long the service reports not ready before its
	// servers stop accepting, so health checks see it first.
	DrainDelay time.Duration
	// Timeout bounds each server's graceful stop; a server still busy after
	// it is closed.
	Timeout time.Duration
}

// Server is a server that can finish its in-flight work (Shutdown, given up
// when ctx ends) or stop at once (Close). *http.Server is one; [Funcs]
// adapts a gRPC server.
type Server interface {
	Shutdown(ctx context.Context) error
	Close() error
}

// Named gives a server the name its log lines and errors carry.
type Named struct {
	Name string
	Server
}

// Shutdown calls notReady (flip readiness and health), waits the drain
// delay, then stops the servers in order, each within cfg.Timeout and closed
// when it overruns. It goes through every step whatever fails and returns
// the failures joined.
func Shutdown(log *slog.Logger, cfg Config, notReady func(), servers ...Named) error {
	if notReady != nil {
		notReady()
	}
	log.Info("shutting down", slog.Duration("drain_delay", cfg.DrainDelay), slog.Duration("timeout", cfg.Timeout))
	if cfg.DrainDelay > 0 {
		time.Sleep(cfg.DrainDelay)
	}
	var errs []error
	for _, s := range servers {
		if err := stop(cfg.Timeout, s); err != nil {
			log.Error("graceful stop incomplete; closed", slog.String("server", s.Name), slog.String("error", err.Error()))
			errs = append(errs, fmt.Errorf("stop %s: %w", s.Name, err))
		}
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// stop shuts s down within timeout and closes it if that fails.
func stop(timeout time.Duration, s Named) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.Shutdown(ctx)
	if err == nil {
		return nil
	}
	if cerr := s.Close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("close: %w", cerr))
	}
	return err
}

// Funcs adapts a server whose graceful stop blocks with no deadline of its
// own and whose hard stop ends it, such as grpc.Server's GracefulStop and
// Stop: Funcs{Graceful: gs.GracefulStop, Hard: gs.Stop}.
type Funcs struct {
	Graceful func()
	Hard     func()
}

// Shutdown runs Graceful and waits for it until ctx ends.
func (f Funcs) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		f.Graceful()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close runs Hard, which also ends a Graceful still waiting.
func (f Funcs) Close() error {
	f.Hard()
	return nil
}
