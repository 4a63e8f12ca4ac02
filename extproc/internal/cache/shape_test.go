package cache_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/cache"
)

func TestDirectives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                       string
		wantNoCache, wantNoStore bool
	}{
		{"", false, false},
		{"no-cache", true, false},
		{"No-Store", false, true},
		{"max-age=0", true, false},
		{"no-cache, no-store", true, true},
		{"max-age=60", false, false},
	}
	for _, tt := range tests {
		nc, ns := cache.Directives(tt.in)
		require.Equal(t, tt.wantNoCache, nc, tt.in)
		require.Equal(t, tt.wantNoStore, ns, tt.in)
	}
}

func TestStorable(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"": true, "max-age=60": true, "public, max-age=60": true,
		"no-store": false, "No-Store": false, "private": false, "Private, max-age=60": false,
		"no-cache": true, // revalidation is the client's business; the answer may be stored
	} {
		require.Equal(t, want, cache.Storable(v), "%q", v)
	}
}

func TestCanonicalFields(t *testing.T) {
	t.Parallel()
	doc := func(s string) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &m))
		return m
	}
	a, err := cache.CanonicalFields(doc(`{"model":"iris","inputs":[{"b":1,"a":2.0}],"options":{}}`), []string{"inputs", "options"})
	require.NoError(t, err)
	b, err := cache.CanonicalFields(doc(`{"inputs":[{"a":2,"b":1e0}],"model":"other"}`), []string{"inputs", "options"})
	require.NoError(t, err)
	require.Equal(t, `{"inputs":[{"a":2,"b":1}]}`, string(a))
	require.Equal(t, a, b, "empty options, key order and number spelling do not matter; model is keyed separately")
	none, err := cache.CanonicalFields(doc(`{"inputs":null,"options":{}}`), []string{"inputs", "options"})
	require.NoError(t, err)
	require.Equal(t, `{}`, string(none), "null and empty members are left out")
}

func TestAppendBinaryTail(t *testing.T) {
	t.Parallel()
	canonical := []byte(`{"inputs":[{"datatype":"FP32","name":"x","parameters":{"binary_data_size":4},"shape":[1]}]}`)
	a := cache.AppendBinaryTail(append([]byte(nil), canonical...), []byte{0, 0, 0x80, 0x3f})
	b := cache.AppendBinaryTail(append([]byte(nil), canonical...), []byte{0, 0, 0, 0x40})
	require.NotEqual(t, a, b, "other tensor bytes, other key")
	require.Equal(t, a, cache.AppendBinaryTail(append([]byte(nil), canonical...), []byte{0, 0, 0x80, 0x3f}))
	require.Equal(t, canonical, cache.AppendBinaryTail(canonical, nil), "no tail: the plain canonical form")
	require.Contains(t, string(a), "\x00", "separated by a byte canonical JSON never holds")
}
