// Package cache is the in-process response cache: a byte-bounded store with
// TTL (ristretto), canonical cache keys and coalescing of concurrent
// identical misses. It knows nothing about Envoy.
package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Config sizes the store.
type Config struct {
	// MaxBytes bounds the stored bodies.
	MaxBytes int64
	// TTL is how long an entry is served.
	TTL time.Duration
	// CoalesceWait bounds how long a request waits for an identical
	// in-flight request before going upstream itself. It must stay below
	// Envoy's ext_proc message_timeout.
	CoalesceWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is a byte-bounded TTL cache of responses with miss coalescing. It is
// safe for concurrent use.
type Store struct {
	rc       *ristretto.Cache[string, *Entry]
	cfg      Config
	now      func() time.Time
	mu       sync.Mutex
	inflight map[Key]*Flight
}

// New builds a store.
func New(cfg Config) (*Store, error) {
	if cfg.MaxBytes <= 0 {
		return nil, errors.New("cache: max bytes must be positive")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("cache: ttl must be positive")
	}
	// About ten counters per expected entry; entries are a few KiB.
	counters := max(cfg.MaxBytes/1024*10, 1000)
	rc, err := ristretto.NewCache(&ristretto.Config[string, *Entry]{
		NumCounters:        counters,
		MaxCost:            cfg.MaxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Store{rc: rc, cfg: cfg, now: now, inflight: map[Key]*Flight{}}, nil
}

// Close releases the store's goroutines.
func (s *Store) Close() { s.rc.Close() }

// Get returns a live entry for k.
func (s *Store) Get(k Key) (*Entry, bool) {
	e, ok := s.rc.Get(string(k[:]))
	if !ok {
		return nil, false
	}
	// ristretto expires on its own clock; the injected clock decides too so
	// tests (and Age) agree with what is served.
	if s.now().Sub(e.StoredAt) >= s.cfg.TTL {
		return nil, false
	}
	return e, true
}

// Set stores e under k with the configured TTL and makes it visible to
// Get before returning. It reports whether the store admitted the entry.
func (s *Store) Set(k Key, e *Entry) bool {
	ok := s.rc.SetWithTTL(string(k[:]), e, e.Size(), s.cfg.TTL)
	// Sets are applied asynchronously; wait so the next identical request
	// (often the very next one) hits.
	s.rc.Wait()
	return ok
}

// Flight is one in-progress upstream request for a key; identical requests
// wait on it instead of going upstream.
type Flight struct {
	s     *Store
	key   Key
	done  chan struct{}
	once  sync.Once
	entry *Entry
}

// Join registers interest in k. The first caller becomes the leader and gets
// leader=true: it must go upstream and later call [Flight.Finish] exactly
// once (Finish(nil) if it has nothing to store). Others get the leader's
// flight and call [Flight.Wait].
func (s *Store) Join(k Key) (f *Flight, leader bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.inflight[k]; ok {
		return f, false
	}
	f = &Flight{s: s, key: k, done: make(chan struct{})}
	s.inflight[k] = f
	return f, true
}

// Finish stores e (if not nil), wakes every follower with it and ends the
// flight. Later calls do nothing.
func (f *Flight) Finish(e *Entry) {
	f.once.Do(func() {
		if e != nil {
			f.s.Set(f.key, e)
		}
		f.s.mu.Lock()
		delete(f.s.inflight, f.key)
		f.s.mu.Unlock()
		f.entry = e
		close(f.done)
	})
}

// Wait blocks until the leader finishes, the configured wait elapses or ctx
// ends. It returns the leader's entry, or nil if there is none to serve
// (the leader failed, its response was not cacheable, or time ran out).
func (f *Flight) Wait(ctx context.Context) *Entry {
	t := time.NewTimer(f.s.cfg.CoalesceWait)
	defer t.Stop()
	select {
	case <-f.done:
		return f.entry
	case <-t.C:
		return nil
	case <-ctx.Done():
		return nil
	}
}
