package logging

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Buffered batches log lines into fewer writes: one write syscall per
// flush instead of one per line, off the request path. Nothing is dropped:
// a line that does not fit flushes the buffer first (the writer then waits
// for the disk like an unbuffered one), a flush runs every interval, and
// Close flushes what is left. Lines stay whole: slog hands each record to
// Write in one call.
type Buffered struct {
	mu   sync.Mutex
	w    *bufio.Writer
	err  error
	stop chan struct{}
	done chan struct{}
}

// NewBuffered buffers up to size bytes for w and flushes every interval.
func NewBuffered(w io.Writer, size int, interval time.Duration) *Buffered {
	b := &Buffered{w: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop(interval)
	return b
}

func (b *Buffered) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write implements io.Writer.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(p) > b.w.Available() && b.w.Buffered() > 0 {
		if err := b.w.Flush(); err != nil {
			b.err = err
			return 0, err
		}
	}
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.err = b.w.Flush()
	return b.err
}

// Close stops the periodic flush and flushes the rest. Writes after Close
// still reach the buffer; call it once, last.
func (b *Buffered) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}
