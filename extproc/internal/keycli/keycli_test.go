package keycli

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/authz"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testDeps(env map[string]string) deps {
	return deps{
		now:    func() time.Time { return now },
		random: rand.Reader,
		getenv: func(k string) string { return env[k] },
	}
}

// runCLI runs a keys command and returns stdout and stderr.
func runCLI(t *testing.T, d deps, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr, d)
	return stdout.String(), stderr.String(), err
}

var keyLine = regexp.MustCompile(`(?m)^key: +(\S+)$`)

// createKey runs create and returns the printed key.
func createKey(t *testing.T, d deps, args ...string) string {
	t.Helper()
	out, _, err := runCLI(t, d, append([]string{"create"}, args...)...)
	require.NoError(t, err)
	m := keyLine.FindStringSubmatch(out)
	require.NotNil(t, m, "no key line in %q", out)
	return m[1]
}

func TestRun_create(t *testing.T) {
	t.Parallel()
	t.Run("prints the key once and stores only its hash", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		out, errOut, err := runCLI(t, testDeps(nil), "create", "--file", path,
			"--client", "acme", "--tier", "pro", "--models", "iris, diabetes", "--expires", "720h")
		require.NoError(t, err)
		key := keyLine.FindStringSubmatch(out)[1]
		require.Equal(t, 1, strings.Count(out, key), "the key is printed exactly once")
		require.NotContains(t, errOut, key)
		require.Contains(t, out, "models:  iris,diabetes")
		require.Contains(t, out, "expires: 2026-12-25T12:00:00Z")

		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NotContains(t, string(data), key[len("mg_live_"):], "the file never holds the secret")
		info, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		s, err := authz.Open(path, authz.Options{Now: func() time.Time { return now }})
		require.NoError(t, err)
		p, err := s.Authenticate(key)
		require.NoError(t, err)
		require.Equal(t, "acme", p.Client)
		require.Equal(t, "pro", p.Tier)
		require.Equal(t, []string{"iris", "diabetes"}, p.Models)
	})
	t.Run("keeps existing entries and appends", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		d := testDeps(nil)
		first := createKey(t, d, "--file", path, "--client", "acme", "--tier", "pro", "--models", "*")
		second := createKey(t, d, "--file", path, "--client", "globex", "--tier", "free", "--models", "iris", "--env", "test")
		require.True(t, strings.HasPrefix(second, "mg_test_"))
		s, err := authz.Open(path, authz.Options{})
		require.NoError(t, err)
		require.Equal(t, 2, s.Len())
		for _, k := range []string{first, second} {
			_, err := s.Authenticate(k)
			require.NoError(t, err)
		}
	})
	t.Run("reads the file from the environment", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		createKey(t, testDeps(map[string]string{EnvFile: path}), "--client", "acme", "--tier", "pro", "--models", "iris")
		_, err := os.Stat(path)
		require.NoError(t, err)
	})
	t.Run("stores a peppered hash when a pepper is set", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		key := createKey(t, testDeps(map[string]string{EnvPepper: "pepper"}),
			"--file", path, "--client", "acme", "--tier", "pro", "--models", "iris")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Contains(t, string(data), "hash: hmac-sha256:")
		s, err := authz.Open(path, authz.Options{Pepper: []byte("pepper")})
		require.NoError(t, err)
		_, err = s.Authenticate(key)
		require.NoError(t, err)
	})

	errTests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "requires a client, tier and models", args: nil, wantErr: "--client: is required"},
		{name: "names each bad flag", args: []string{"--client", "a b", "--tier", "pro", "--models", "iris,*"}, wantErr: `--client: "a b" may hold only`},
		{name: "rejects a star among other models", args: []string{"--client", "a", "--tier", "pro", "--models", "iris,*"}, wantErr: `--models[1]: "*" must be the only entry`},
		{name: "rejects an expiry in the past", args: []string{"--client", "a", "--tier", "pro", "--models", "iris", "--expires", "2020-01-01T00:00:00Z"}, wantErr: "is not in the future"},
		{name: "rejects a garbled expiry", args: []string{"--client", "a", "--tier", "pro", "--models", "iris", "--expires", "soon"}, wantErr: "neither a duration"},
		{name: "rejects an unknown environment", args: []string{"--client", "a", "--tier", "pro", "--models", "iris", "--env", "prod"}, wantErr: `--env: "prod"`},
		{name: "rejects stray arguments", args: []string{"extra"}, wantErr: "create takes no arguments"},
		{name: "rejects unknown flags", args: []string{"--colour", "red"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "keys.yaml")
			_, _, err := runCLI(t, testDeps(nil), append([]string{"create", "--file", path}, tt.args...)...)
			require.ErrorIs(t, err, ErrUsage)
			require.ErrorContains(t, err, tt.wantErr)
			_, statErr := os.Stat(path)
			require.ErrorIs(t, statErr, os.ErrNotExist, "a failed create writes nothing")
		})
	}
	t.Run("refuses to append to a broken file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		require.NoError(t, os.WriteFile(path, []byte("keys: [\n"), 0o600))
		_, _, err := runCLI(t, testDeps(nil), "create", "--file", path, "--client", "a", "--tier", "b", "--models", "*")
		require.ErrorContains(t, err, "keys file")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "keys: [\n", string(data))
	})
}

func TestRun_listAndRevoke(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	d := testDeps(nil)
	key := createKey(t, d, "--file", path, "--client", "acme", "--tier", "pro", "--models", "iris,diabetes", "--expires", "30d")
	other := createKey(t, d, "--file", path, "--client", "globex", "--tier", "free", "--models", "*")
	id := key[len("mg_live_"):][:8]
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := authz.ParseFile(data)
	require.NoError(t, err)

	out, _, err := runCLI(t, d, "list", "--file", path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^ID +PREFIX +CLIENT +TIER +MODELS +EXPIRES +STATUS$`, lines[0])
	require.Regexp(t, `^`+id+` +mg_live_`+id+` +acme +pro +iris,diabetes +2026-12-25T12:00:00Z +active$`, lines[1])
	require.Contains(t, lines[2], "globex")
	require.NotContains(t, out, key[len("mg_live_")+8:], "list never shows a secret")
	require.NotContains(t, out, other[len("mg_live_")+8:])
	require.NotContains(t, out, f.Keys[0].Hash[len("sha256:"):], "list never shows a hash")

	// Flags may follow the id.
	out, _, err = runCLI(t, d, "revoke", id, "--file", path)
	require.NoError(t, err)
	require.Contains(t, out, "revoked key "+id)

	out, _, err = runCLI(t, d, "list", "--file", path)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^`+id+` .* revoked$`, out)

	out, _, err = runCLI(t, d, "revoke", "--file", path, id)
	require.NoError(t, err, "revoking twice is harmless")
	require.Contains(t, out, "already revoked")

	s, err := authz.Open(path, authz.Options{})
	require.NoError(t, err)
	_, err = s.Authenticate(key)
	require.ErrorIs(t, err, authz.ErrRevoked)
	_, err = s.Authenticate(other)
	require.NoError(t, err, "revoking one key leaves the others")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

}

func TestRun_listShowsExpiredKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	d := testDeps(nil)
	createKey(t, d, "--file", path, "--client", "acme", "--tier", "pro", "--models", "*", "--expires", "1h")
	later := d
	later.now = func() time.Time { return now.Add(time.Hour) }
	out, _, err := runCLI(t, later, "list", "--file", path)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\S+ +\S+ +acme .* expired$`, out)
}

func TestRun_errors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	tests := []struct {
		name      string
		args      []string
		wantUsage bool
		wantErr   string
	}{
		{name: "asks for a command", args: nil, wantUsage: true, wantErr: "missing command"},
		{name: "rejects an unknown command", args: []string{"rotate"}, wantUsage: true, wantErr: `unknown command "rotate"`},
		{name: "requires an id to revoke", args: []string{"revoke", "--file", missing}, wantUsage: true, wantErr: "exactly one key id"},
		{name: "reports a missing file on list", args: []string{"list", "--file", missing}, wantErr: "no such file"},
		{name: "reports a missing file on revoke", args: []string{"revoke", "--file", missing, "aaaaaaaa"}, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runCLI(t, testDeps(nil), tt.args...)
			require.ErrorContains(t, err, tt.wantErr)
			if tt.wantUsage {
				require.ErrorIs(t, err, ErrUsage)
			}
		})
	}
	t.Run("reports an unknown id", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.yaml")
		createKey(t, testDeps(nil), "--file", path, "--client", "a", "--tier", "b", "--models", "*")
		_, _, err := runCLI(t, testDeps(nil), "revoke", "--file", path, "zzzzzzzz")
		require.ErrorContains(t, err, `no key with id "zzzzzzzz"`)
	})
	t.Run("prints help", func(t *testing.T) {
		t.Parallel()
		out, _, err := runCLI(t, testDeps(nil), "help")
		require.NoError(t, err)
		require.Contains(t, out, "usage: extproc keys")
	})
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{name: "adds a Go duration", in: "720h", want: now.Add(720 * time.Hour)},
		{name: "adds whole days", in: "30d", want: now.AddDate(0, 0, 30)},
		{name: "reads an RFC 3339 time", in: "2027-01-01T00:00:00+01:00", want: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)},
		{name: "rejects a negative duration", in: "-1h", wantErr: true},
		{name: "rejects zero days", in: "0d", wantErr: true},
		{name: "rejects fractional days", in: "1.5d", wantErr: true},
		{name: "rejects a date without time", in: "2027-01-01", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseExpiry(tt.in, now)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Equal(got), "got %v want %v", got, tt.want)
		})
	}
}

func TestRun_symlinkedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "real.yaml")
	link := filepath.Join(dir, "keys.yaml")
	createKey(t, testDeps(nil), "--file", target, "--client", "a", "--tier", "b", "--models", "*")
	require.NoError(t, os.Symlink("real.yaml", link))
	createKey(t, testDeps(nil), "--file", link, "--client", "c", "--tier", "d", "--models", "*")
	info, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, info.Mode()&os.ModeSymlink, "the link survives the write")
	s, err := authz.Open(target, authz.Options{})
	require.NoError(t, err)
	require.Equal(t, 2, s.Len())
}
