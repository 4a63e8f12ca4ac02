package cache_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/cache"
	"github.com/modelgate/modelgate/internal/testutil"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "sorts keys at every level", in: `{"b":1,"a":{"d":2,"c":3}}`, want: `{"a":{"c":3,"d":2},"b":1}`},
		{name: "drops whitespace", in: " [ 1 , 2 ,\n3 ] ", want: `[1,2,3]`},
		{name: "normalises numbers", in: `[1.0, 1e0, 10E-1, 0.10, -0, 0.0, 1e21, 123456789012, 1e-7, 2.5e-300]`,
			want: `[1,1,1,0.1,0,0,1e+21,123456789012,1e-7,2.5e-300]`},
		{name: "keeps out-of-range literals", in: `[1e400]`, want: `[1e400]`},
		{name: "escapes strings one way", in: `["\u0041", "a\"b", "<&>", "é"]`, want: `["A","a\"b","\u003c\u0026\u003e","é"]`},
		{name: "keeps literals", in: `{"t":true,"f":false,"n":null}`, want: `{"f":false,"n":null,"t":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cache.CanonicalJSON([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
	_, err := cache.CanonicalJSON([]byte(`{"a":1} {}`))
	require.Error(t, err)
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1.0,"x",null,true]}`, `[1e400,-0,0.1]`, `"\u2028<>"`, `{"a":{"b":{}}}`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c1, err := cache.CanonicalJSON([]byte(in))
		if err != nil {
			return
		}
		if !json.Valid(c1) {
			t.Fatalf("canonical form is not valid JSON: %q", c1)
		}
		c2, err := cache.CanonicalJSON(c1)
		require.NoError(t, err)
		require.Equal(t, string(c1), string(c2), "canonical(canonical(x)) == canonical(x)")

		// Key order independence: re-encoding through a Go map (random
		// order) and with indentation gives the same canonical form.
		var v any
		d := json.NewDecoder(bytes.NewReader(c1))
		d.UseNumber()
		require.NoError(t, d.Decode(&v))
		re, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		c3, err := cache.CanonicalJSON(re)
		require.NoError(t, err)
		require.Equal(t, string(c1), string(c3))
	})
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	base := cache.KeyParts{Scope: "acme", Route: "v2_predict", Model: "iris", Version: "2", Canonical: []byte(`{"a":1}`)}
	k := cache.NewKey(base)
	require.Equal(t, k, cache.NewKey(base), "deterministic")
	for name, change := range map[string]func(p *cache.KeyParts){
		"scope":     func(p *cache.KeyParts) { p.Scope = "globex" },
		"route":     func(p *cache.KeyParts) { p.Route = "v1_predict" },
		"model":     func(p *cache.KeyParts) { p.Model = "diabetes" },
		"version":   func(p *cache.KeyParts) { p.Version = "1" },
		"canonical": func(p *cache.KeyParts) { p.Canonical = []byte(`{"a":2}`) },
		"boundary":  func(p *cache.KeyParts) { p.Scope, p.Route = "acmev", "2_predict" },
	} {
		p := base
		change(&p)
		require.NotEqual(t, k, cache.NewKey(p), name)
	}
}

func TestEntry_Body(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	body := []byte(`{"predictions":["setosa"],"request_id":"old-id","model_version":"2"}`)
	e := cache.NewEntry(body, "request_id", "application/json", "2", now)
	require.True(t, e.HasID)
	require.JSONEq(t, `{"predictions":["setosa"],"request_id":"new\"id","model_version":"2"}`, string(e.Body(`new"id`)))
	require.Equal(t, string(body), string(e.Body("")), "no new id keeps the stored one")
	require.Equal(t, "0", e.Age(now.Add(999*time.Millisecond)))
	require.Equal(t, "42", e.Age(now.Add(42*time.Second)))

	nested := cache.NewEntry([]byte(`{"x":{"request_id":"inner"},"y":1}`), "request_id", "", "", now)
	require.False(t, nested.HasID, "only top-level members are rewritten")
	require.Equal(t, `{"x":{"request_id":"inner"},"y":1}`, string(nested.Body("new")))

	notString := cache.NewEntry([]byte(`{"id":7}`), "id", "", "", now)
	require.Equal(t, `{"id":7}`, string(notString.Body("new")))
}

func newStore(t *testing.T, c *testutil.Clock) *cache.Store {
	t.Helper()
	s, err := cache.New(cache.Config{MaxBytes: 1 << 20, TTL: time.Minute, CoalesceWait: 2 * time.Second, Now: c.Now})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestStore_GetSet(t *testing.T) {
	t.Parallel()
	c := testutil.NewClock(time.Unix(1000, 0))
	s := newStore(t, c)
	k := cache.NewKey(cache.KeyParts{Route: "r"})
	_, ok := s.Get(k)
	require.False(t, ok)
	require.True(t, s.Set(k, cache.NewEntry([]byte(`{}`), "request_id", "application/json", "1", c.Now())))
	e, ok := s.Get(k)
	require.True(t, ok, "visible right after Set")
	require.Equal(t, "1", e.ModelVersion)
	c.Advance(time.Minute)
	_, ok = s.Get(k)
	require.False(t, ok, "expired after the TTL")
}

func TestStore_rejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := cache.New(cache.Config{MaxBytes: 0, TTL: time.Second})
	require.Error(t, err)
	_, err = cache.New(cache.Config{MaxBytes: 1, TTL: 0})
	require.Error(t, err)
}

func TestStore_coalescesConcurrentMisses(t *testing.T) {
	t.Parallel()
	c := testutil.NewClock(time.Unix(1000, 0))
	s := newStore(t, c)
	k := cache.NewKey(cache.KeyParts{Route: "r", Canonical: []byte("x")})

	const n = 32
	var leaders atomic.Int32
	var served atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			f, leader := s.Join(k)
			if leader {
				leaders.Add(1)
				time.Sleep(20 * time.Millisecond) // the upstream call
				f.Finish(cache.NewEntry([]byte(`{"request_id":"a"}`), "request_id", "application/json", "1", c.Now()))
				return
			}
			if e := f.Wait(t.Context()); e != nil {
				served.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Equal(t, int32(1), leaders.Load(), "one request goes upstream")
	require.Equal(t, int32(n-1), served.Load(), "the others are served its result")
	_, ok := s.Get(k)
	require.True(t, ok)
}

func TestFlight_failedLeaderReleasesFollowers(t *testing.T) {
	t.Parallel()
	c := testutil.NewClock(time.Unix(1000, 0))
	s := newStore(t, c)
	k := cache.NewKey(cache.KeyParts{Route: "r"})
	f, leader := s.Join(k)
	require.True(t, leader)
	g, leader2 := s.Join(k)
	require.False(t, leader2)
	go f.Finish(nil)
	require.Nil(t, g.Wait(t.Context()), "nothing to serve: the follower goes upstream")
	f.Finish(nil) // idempotent
	_, leader3 := s.Join(k)
	require.True(t, leader3, "a finished flight is forgotten")
}

func TestFlight_waitIsBounded(t *testing.T) {
	t.Parallel()
	s, err := cache.New(cache.Config{MaxBytes: 1 << 20, TTL: time.Minute, CoalesceWait: 10 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	k := cache.NewKey(cache.KeyParts{Route: "r"})
	f, _ := s.Join(k)
	defer f.Finish(nil)
	g, _ := s.Join(k)
	start := time.Now()
	require.Nil(t, g.Wait(t.Context()))
	require.Less(t, time.Since(start), time.Second)
}

func TestBinaryEntry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	head := `{"model_name":"iris","id":"t1","outputs":[{"name":"label","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":10}}]}`
	// Tensor bytes that look like the id, a quote and invalid UTF-8: they
	// must come back untouched.
	tail := "\x06\x00\x00\x00\"t1\"\xff\x00"
	e, err := cache.NewBinaryEntry([]byte(head+tail), len(head), "id", "application/octet-stream", "2", now)
	require.NoError(t, err)
	require.True(t, e.Binary)
	require.Equal(t, "application/octet-stream", e.ContentType)

	for _, id := range []string{"a-much-longer-request-id", "x", `quo"te`} {
		body := e.Body(id)
		n := e.HeadLength(body)
		require.Equal(t, tail, string(body[n:]), "the tensor bytes are unchanged")
		var got map[string]any
		require.NoError(t, json.Unmarshal(body[:n], &got), "the head is exactly the first %d bytes", n)
		require.Equal(t, id, got["id"])
		require.Equal(t, "iris", got["model_name"])
	}
	body := e.Body("")
	require.Equal(t, head+tail, string(body), "an empty id keeps the stored one")
	require.Equal(t, len(head), e.HeadLength(body))
	require.GreaterOrEqual(t, e.Size(), int64(len(head)+len(tail)), "the tensor bytes count against the bound")

	t.Run("a head without an id is replayed as stored", func(t *testing.T) {
		t.Parallel()
		noID := `{"model_name":"iris","outputs":[]}`
		e, err := cache.NewBinaryEntry([]byte(noID+tail), len(noID), "id", "application/octet-stream", "2", now)
		require.NoError(t, err)
		body := e.Body("new")
		require.Equal(t, noID+tail, string(body))
		require.Equal(t, len(noID), e.HeadLength(body))
	})
	t.Run("refuses what is not a binary answer", func(t *testing.T) {
		t.Parallel()
		for name, tc := range map[string]struct {
			body string
			n    int
		}{
			"length past the body": {head + tail, len(head + tail + "x")},
			"negative length":      {head + tail, -1},
			"length cutting head":  {head + tail, len(head) - 1},
			"head not an object":   {`[1,2]` + tail, 5},
			"empty head":           {tail, 0},
		} {
			_, err := cache.NewBinaryEntry([]byte(tc.body), tc.n, "id", "application/octet-stream", "2", now)
			require.Error(t, err, name)
		}
	})
	t.Run("a JSON entry has no head length", func(t *testing.T) {
		t.Parallel()
		j := cache.NewEntry([]byte(head), "id", "application/json", "2", now)
		require.False(t, j.Binary)
		require.Zero(t, j.HeadLength(j.Body("x")))
	})
}
