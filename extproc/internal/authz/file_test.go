package authz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fixtureHash is the digest used in testdata/keys; no error may repeat it.
const fixtureHash = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	require.NoError(t, err)
	return data
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	t.Run("reads every field of a valid file", func(t *testing.T) {
		t.Parallel()
		f, err := ParseFile(readFixture(t, "valid.yaml"))
		require.NoError(t, err)
		require.Len(t, f.Keys, 2)
		require.Equal(t, Entry{
			ID: "3f7ak2pq", Prefix: "mg_live_3f7ak2pq", Hash: "sha256:" + fixtureHash,
			Client: "acme", Tier: "pro", Models: []string{"iris", "diabetes"},
			Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
			Created: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		}, f.Keys[0])
		require.True(t, f.Keys[1].Disabled)
		require.Equal(t, []string{"*"}, f.Keys[1].Models)
	})
	t.Run("accepts an empty file as no keys", func(t *testing.T) {
		t.Parallel()
		f, err := ParseFile(readFixture(t, "empty.yaml"))
		require.NoError(t, err)
		require.Empty(t, f.Keys)
	})
	t.Run("survives a marshal round trip", func(t *testing.T) {
		t.Parallel()
		f, err := ParseFile(readFixture(t, "valid.yaml"))
		require.NoError(t, err)
		out, err := f.Marshal()
		require.NoError(t, err)
		g, err := ParseFile(out)
		require.NoError(t, err)
		f.Version = FileVersion
		require.Equal(t, f, g)
	})

	errTests := []struct {
		name     string
		fixture  string
		wantErrs []string
	}{
		{
			name:    "reports every problem of every entry at once",
			fixture: "every_field_wrong.yaml",
			wantErrs: []string{
				`keys[0].id: "SHOUTING" is not 8 characters`,
				`keys[0].prefix: "mg_live_other123" is not mg_<env>_<id>`,
				`keys[0].hash: want "sha256:"`,
				`keys[0].client: "acme corp" may hold only`,
				`keys[0].tier: is required`,
				`keys[0].models: is required`,
				`keys[0].expires: "next tuesday" is not an RFC 3339 time`,
				`keys[0].created: "2026-13-01" is not an RFC 3339 time`,
				`keys[1].id: is required`,
				`keys[1].prefix: is required`,
				`keys[1].hash: is required`,
				`keys[1].models[0]: "*" must be the only entry`,
			},
		},
		{name: "rejects a duplicate id", fixture: "duplicate_id.yaml", wantErrs: []string{`keys[1].id: "3f7ak2pq" is already used by keys[0]`}},
		{name: "rejects an unknown field", fixture: "unknown_field.yaml", wantErrs: []string{"field key not found"}},
		{name: "rejects a value of the wrong type without echoing it", fixture: "wrong_type.yaml", wantErrs: []string{"`<redacted>`"}},
		{name: "rejects a future format version", fixture: "future_version.yaml", wantErrs: []string{"version: 2 is not supported"}},
		{name: "rejects text that is not YAML", fixture: "not_yaml.yaml", wantErrs: []string{"decode keys file"}},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFile(readFixture(t, tt.fixture))
			require.Error(t, err)
			require.Nil(t, f)
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
			require.NotContains(t, err.Error(), fixtureHash[:16], "errors must never repeat a digest")
		})
	}
}

func TestFile_Index(t *testing.T) {
	t.Parallel()
	f := &File{Keys: []Entry{{ID: "aaaaaaaa"}, {ID: "bbbbbbbb"}}}
	require.Equal(t, 1, f.Index("bbbbbbbb"))
	require.Equal(t, -1, f.Index("cccccccc"))
}

func TestEntry_Status(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		entry Entry
		want  string
	}{
		{name: "is active without expiry", entry: Entry{}, want: "active"},
		{name: "is active before expiry", entry: Entry{Expires: now.Add(time.Second)}, want: "active"},
		{name: "is expired at the expiry instant", entry: Entry{Expires: now}, want: "expired"},
		{name: "is revoked when disabled, even if expired", entry: Entry{Disabled: true, Expires: now}, want: "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.entry.Status(now))
		})
	}
}

func FuzzParseKeysFile(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "keys"))
	require.NoError(f, err)
	for _, e := range entries {
		f.Add(readFixture(f, e.Name()))
	}
	f.Add([]byte("keys: {}"))
	f.Add([]byte("keys:\n- id: aaaaaaaa\n  models: [\"*\"]\n"))
	f.Add([]byte("version: -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			if file != nil {
				t.Fatal("error with a file")
			}
			return
		}
		// A file that parses is valid, and writing it back gives the
		// same file.
		require.NoError(t, file.Validate())
		out, err := file.Marshal()
		require.NoError(t, err)
		again, err := ParseFile(out)
		require.NoError(t, err, "re-parse of:\n%s", out)
		require.Len(t, again.Keys, len(file.Keys))
		for i := range file.Keys {
			a, b := file.Keys[i], again.Keys[i]
			require.Equal(t, a.ID, b.ID)
			require.Equal(t, a.Hash, b.Hash)
			require.Equal(t, a.Models, b.Models)
			require.True(t, a.Expires.Equal(b.Expires) || strings.Contains(string(out), "expires"), "expires %v != %v", a.Expires, b.Expires)
		}
	})
}
