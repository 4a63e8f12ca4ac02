package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Metric names.
const (
	// MetricReloads counts keys-file loads, with attribute result=ok|error.
	MetricReloads = "modelgate.authz.keys_reload"
	// MetricLoaded is the number of entries in the keys set in force.
	MetricLoaded = "modelgate.authz.keys_loaded"
)

// defaultDebounce is how long Watch waits after the last change event
// before reloading: editors and atomic renames emit several events per
// save, and a short pause lets a write finish.
const defaultDebounce = 100 * time.Millisecond

// Options configures a [Store]. The zero value works.
type Options struct {
	// Logger receives reload results; nil discards them.
	Logger *slog.Logger
	// Meter creates the reload counter and loaded-keys gauge; nil uses a
	// no-op meter.
	Meter metric.Meter
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
	// Pepper, when set, is the HMAC key for "hmac-sha256:" hashes (the app
	// reads it from EXTPROC_KEYS_PEPPER). Files without such hashes need
	// none.
	Pepper []byte
	// Debounce is the pause after the last change event before Watch
	// reloads; zero means 100 ms.
	Debounce time.Duration
}

// Store authenticates keys against the keys file and keeps the set current.
// It is safe for concurrent use; reloads swap the whole set atomically, so a
// request sees either the old set or the new one.
type Store struct {
	path     string
	logger   *slog.Logger
	now      func() time.Time
	pepper   []byte
	debounce time.Duration

	set atomic.Pointer[keySet]

	// mu serialises reloads and guards seen.
	mu sync.Mutex
	// seen is the digest of the file contents last read, loaded or not, so
	// that repeated events for unchanged contents do nothing.
	seen [sha256.Size]byte

	reloads   metric.Int64Counter
	loaded    metric.Int64Gauge
	resultOK  metric.MeasurementOption
	resultErr metric.MeasurementOption
}

// keySet is one immutable generation of the keys file.
type keySet struct {
	byID map[string]*key
}

type key struct {
	principal Principal
	digest    [sha256.Size]byte
	peppered  bool
	disabled  bool
	expires   time.Time
}

// Open reads and validates the keys file at path. A missing or invalid
// file is an error: the service must not start without knowing its keys.
func Open(path string, opts Options) (*Store, error) {
	s := &Store{
		path:     path,
		logger:   opts.Logger,
		now:      opts.Now,
		pepper:   opts.Pepper,
		debounce: opts.Debounce,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.debounce <= 0 {
		s.debounce = defaultDebounce
	}
	meter := opts.Meter
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	var err error
	if s.reloads, err = meter.Int64Counter(MetricReloads,
		metric.WithDescription("Loads of the API keys file, by result (ok or error)."),
		metric.WithUnit("{reload}")); err != nil {
		return nil, fmt.Errorf("create %s counter: %w", MetricReloads, err)
	}
	if s.loaded, err = meter.Int64Gauge(MetricLoaded,
		metric.WithDescription("API keys in the keys set in force, including revoked and expired ones."),
		metric.WithUnit("{key}")); err != nil {
		return nil, fmt.Errorf("create %s gauge: %w", MetricLoaded, err)
	}
	s.resultOK = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "ok")))
	s.resultErr = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "error")))

	if _, err := s.load(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the keys file the store reads.
func (s *Store) Path() string { return s.path }

// Len returns the number of entries in force, including revoked and
// expired ones.
func (s *Store) Len() int { return len(s.set.Load().byID) }

// Authenticate checks key against the keys in force and returns its
// principal. It returns [ErrMalformed] for a string that is not shaped like
// a key, [ErrUnknown] when no entry matches, [ErrRevoked] or [ErrExpired]
// for a matching entry that may no longer be used. Revocation and expiry are
// only revealed to a caller holding the real key.
func (s *Store) Authenticate(key string) (Principal, error) {
	_, id, ok := splitKey(key)
	if !ok {
		return Principal{}, ErrMalformed
	}
	k := s.set.Load().byID[id]
	var want [sha256.Size]byte
	peppered := len(s.pepper) > 0
	if k != nil {
		want, peppered = k.digest, k.peppered
	}
	// Hash even for an unknown id so that timing does not tell which ids
	// exist (ids are not secret, but there is no reason to help).
	got := digest(key, s.pepperIf(peppered))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || k == nil {
		return Principal{}, ErrUnknown
	}
	if k.disabled {
		return Principal{}, ErrRevoked
	}
	if !k.expires.IsZero() && !s.now().Before(k.expires) {
		return Principal{}, ErrExpired
	}
	return k.principal, nil
}

// Lookup returns the principal of the key with keyID if that key is in
// force (present, not revoked, not expired). ext_proc uses it with the key
// id that ext_authz put on the request.
func (s *Store) Lookup(keyID string) (Principal, bool) {
	k := s.set.Load().byID[keyID]
	if k == nil || k.disabled || (!k.expires.IsZero() && !s.now().Before(k.expires)) {
		return Principal{}, false
	}
	return k.principal, true
}

// Reload reads the keys file now. If the file cannot be read or is
// invalid, the keys in force stay, and the failure is logged, counted and
// returned.
func (s *Store) Reload(ctx context.Context) error {
	_, err := s.load(ctx)
	return err
}

func (s *Store) pepperIf(peppered bool) []byte {
	if peppered {
		return s.pepper
	}
	return nil
}

// load reads, validates and swaps in the keys file. It reports whether the
// contents had changed since the last read.
func (s *Store) load(ctx context.Context) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		return true, s.fail(ctx, fmt.Errorf("read keys file: %w", err))
	}
	sum := sha256.Sum256(data)
	if s.set.Load() != nil && sum == s.seen {
		return false, nil
	}
	s.seen = sum
	set, err := s.build(data)
	if err != nil {
		return true, s.fail(ctx, fmt.Errorf("keys file %s: %w", s.path, err))
	}
	s.set.Store(set)
	s.reloads.Add(ctx, 1, s.resultOK)
	s.loaded.Record(ctx, int64(len(set.byID)))
	s.logger.LogAttrs(ctx, slog.LevelInfo, "api keys loaded",
		slog.String("path", s.path), slog.Int("keys", len(set.byID)))
	return true, nil
}

func (s *Store) fail(ctx context.Context, err error) error {
	s.reloads.Add(ctx, 1, s.resultErr)
	if s.set.Load() != nil {
		// Error messages carry paths and field names, never keys or
		// digests (see ParseFile).
		s.logger.LogAttrs(ctx, slog.LevelError, "api keys file rejected; keeping the keys in force",
			slog.String("path", s.path), slog.String("error", err.Error()))
	}
	return err
}

func (s *Store) build(data []byte) (*keySet, error) {
	f, err := ParseFile(data)
	if err != nil {
		return nil, err
	}
	set := &keySet{byID: make(map[string]*key, len(f.Keys))}
	var errs []error
	for i := range f.Keys {
		e := &f.Keys[i]
		d, peppered, err := parseHash(e.Hash)
		if err != nil { // unreachable after ParseFile; kept for safety
			errs = append(errs, fmt.Errorf("keys[%d].hash: %w", i, err))
			continue
		}
		if peppered && len(s.pepper) == 0 {
			errs = append(errs, fmt.Errorf("keys[%d].hash: hmac-sha256 needs a pepper, and none is configured", i))
			continue
		}
		set.byID[e.ID] = &key{
			principal: e.Principal(),
			digest:    d,
			peppered:  peppered,
			disabled:  e.Disabled,
			expires:   e.Expires,
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}
