package configsource

import (
	"context"
	"sync"
)

// Push is a [Source] that delivers the configurations it is handed: the
// end a control-plane client (xDS, say) sends each configuration it
// receives into, and a source for tests that has no files or signals.
type Push[T any] struct {
	updates chan Update[T]
	once    sync.Once
}

var _ Source[int] = (*Push[int])(nil)

// NewPush returns a push source with nothing sent yet.
func NewPush[T any]() *Push[T] { return &Push[T]{updates: make(chan Update[T])} }

// Send hands over cfg, or err to reject the update, and returns once the
// consumer has taken it or ctx is done. It must not be called after Stop.
func (p *Push[T]) Send(ctx context.Context, cfg T, err error) error {
	u := Update[T]{Load: func() (T, error) { return cfg, err }}
	select {
	case p.updates <- u:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Updates implements [Source.Updates].
func (p *Push[T]) Updates() <-chan Update[T] { return p.updates }

// Stop implements [Source.Stop]: it closes Updates.
func (p *Push[T]) Stop() { p.once.Do(func() { close(p.updates) }) }
