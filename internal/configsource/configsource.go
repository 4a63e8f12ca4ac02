// Package configsource is the seam between where a service's reloadable
// configuration comes from and what the service does with it, in the
// style of envoyproxy/ratelimit's provider package: a [Source] delivers
// updates on a channel until it is stopped, and the service applies each
// one (validating it, swapping it in, counting and logging the result)
// without knowing whether it came from a file, a signal or a control
// plane. [File] is the source that watches files and SIGHUP; an xDS or
// control-plane source implements the same interface.
package configsource

import (
	"context"
	"errors"
)

// Update is one change of configuration announced by a [Source].
type Update[T any] struct {
	// Load returns the configuration the update carries: a file source
	// reads and validates its files, a push source returns what was
	// pushed. An error rejects the update; the configuration in force
	// stays.
	Load func() (T, error)
	// Requested is true when an operator asked for the reload (SIGHUP):
	// everything reloadable is re-read, also what watches itself.
	Requested bool
}

// Source delivers configuration updates.
type Source[T any] interface {
	// Updates returns the channel of updates. It is closed when the
	// source ends: after Stop, or when it cannot go on (the source logs
	// why; a consumer not stopping treats the close as a failure).
	Updates() <-chan Update[T]
	// Stop ends the source and releases what it holds. It may be called
	// more than once.
	Stop()
}

// ErrStopped is what [Follow] returns when its source ends unasked.
var ErrStopped = errors.New("configuration source stopped")

// Follow hands each update of src to apply until ctx is done, and returns
// nil then. A source that ends while ctx is not done is a failure:
// [ErrStopped]. Updates are applied one at a time, in order.
func Follow[T any](ctx context.Context, src Source[T], apply func(context.Context, Update[T])) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-src.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return ErrStopped
			}
			apply(ctx, u)
		}
	}
}
