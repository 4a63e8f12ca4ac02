package authz

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIssue(t *testing.T) {
	t.Parallel()
	t.Run("generates a key of the documented shape", func(t *testing.T) {
		t.Parallel()
		k, err := Issue(EnvLive, rand.Reader, nil)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(k.Key, "mg_live_"))
		require.Len(t, k.Key, len("mg_live_")+idLen+secretLen)
		require.Equal(t, "mg_live_"+k.ID, k.Prefix)
		require.True(t, strings.HasPrefix(k.Key, k.Prefix))
		env, id, ok := splitKey(k.Key)
		require.True(t, ok)
		require.Equal(t, EnvLive, env)
		require.Equal(t, k.ID, id)
		require.Equal(t, HashKey(k.Key, nil), k.Hash)
		require.NotContains(t, k.Hash, k.Key)
	})
	t.Run("carries 32 bytes of secret", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, 52, secretLen)
		a, err := Issue(EnvTest, rand.Reader, nil)
		require.NoError(t, err)
		b, err := Issue(EnvTest, rand.Reader, nil)
		require.NoError(t, err)
		require.NotEqual(t, a.Key, b.Key)
	})
	t.Run("peppers the hash when a pepper is given", func(t *testing.T) {
		t.Parallel()
		k, err := Issue(EnvTest, rand.Reader, []byte("pepper"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(k.Hash, "hmac-sha256:"))
		require.NotEqual(t, HashKey(k.Key, nil)[len("sha256:"):], k.Hash[len("hmac-sha256:"):])
	})
	t.Run("rejects an unknown environment", func(t *testing.T) {
		t.Parallel()
		_, err := Issue("prod", rand.Reader, nil)
		require.ErrorContains(t, err, `"prod"`)
	})
	t.Run("reports a failing random source", func(t *testing.T) {
		t.Parallel()
		_, err := Issue(EnvLive, bytes.NewReader(make([]byte, 4)), nil)
		require.Error(t, err)
	})
}

func TestParseHash(t *testing.T) {
	t.Parallel()
	hexs := strings.Repeat("ab", 32)
	tests := []struct {
		name         string
		in           string
		wantPeppered bool
		wantErr      bool
	}{
		{name: "accepts sha256", in: "sha256:" + hexs},
		{name: "accepts hmac-sha256", in: "hmac-sha256:" + hexs, wantPeppered: true},
		{name: "rejects upper-case hex", in: "sha256:" + strings.ToUpper(hexs), wantErr: true},
		{name: "rejects a short digest", in: "sha256:" + hexs[2:], wantErr: true},
		{name: "rejects another algorithm", in: "md5:" + hexs, wantErr: true},
		{name: "rejects non-hex", in: "sha256:" + strings.Repeat("zz", 32), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, peppered, err := parseHash(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				require.NotContains(t, err.Error(), hexs[:16], "error must not echo the digest")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantPeppered, peppered)
		})
	}
}

func TestPrincipal_Allows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		models []string
		model  string
		want   bool
	}{
		{name: "allows a listed model", models: []string{"iris", "diabetes"}, model: "diabetes", want: true},
		{name: "refuses an unlisted model", models: []string{"iris"}, model: "diabetes"},
		{name: "allows every model with a star", models: []string{"*"}, model: "anything", want: true},
		{name: "refuses everything with no models", models: nil, model: "iris"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Principal{Models: tt.models}.Allows(tt.model))
		})
	}
}
