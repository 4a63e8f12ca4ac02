package webhook_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/webhook"
)

func TestRotate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	first, err := webhook.Rotate(path, "alice", false, nil)
	require.NoError(t, err)
	f, err := webhook.OpenSecrets(path)
	require.NoError(t, err)
	require.Equal(t, []webhook.Secret{first}, f.Secrets("alice"))
	require.Empty(t, f.Secrets("bob"))

	t.Run("rotate signs with the new and the previous secret", func(t *testing.T) {
		second, err := webhook.Rotate(path, "alice", true, nil)
		require.NoError(t, err)
		bumpMtime(t, path, 1)
		require.Equal(t, []webhook.Secret{second, first}, f.Secrets("alice"))
		sig := webhook.Sign(f.Secrets("alice"), "msg_1", time.Unix(1, 0), []byte("{}"))
		for _, s := range []webhook.Secret{first, second} {
			require.NoError(t, webhook.Verify(s, "msg_1", "1", sig, []byte("{}"), time.Unix(1, 0), time.Minute))
		}
	})
	t.Run("create drops every previous secret", func(t *testing.T) {
		third, err := webhook.Rotate(path, "alice", false, nil)
		require.NoError(t, err)
		bumpMtime(t, path, 2)
		require.Equal(t, []webhook.Secret{third}, f.Secrets("alice"))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
	t.Run("a client is required", func(t *testing.T) {
		_, err := webhook.Rotate(path, "", false, nil)
		require.Error(t, err)
	})
}

// bumpMtime moves the file's modification time n seconds ahead, so a
// rewrite within the file system's timestamp granularity is seen by the
// reload check.
func bumpMtime(t *testing.T, path string, n int) {
	t.Helper()
	later := time.Now().Add(time.Duration(n) * time.Second)
	require.NoError(t, os.Chtimes(path, later, later))
}
