package authz

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testKey is a well-shaped key that is in no keys file.
const testKey = "mg_live_aaaaaaaa" + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func TestParseCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		apiKey, authz string
		want          string
		wantErr       error
	}{
		{name: "reads x-api-key", apiKey: testKey, want: testKey},
		{name: "reads a bearer token", authz: "Bearer " + testKey, want: testKey},
		{name: "matches the bearer scheme case-insensitively", authz: "bEaReR " + testKey, want: testKey},
		{name: "tolerates surrounding and repeated spaces", apiKey: " \t" + testKey + " ", authz: "Bearer   " + testKey, want: testKey},
		{name: "accepts the same key in both headers", apiKey: testKey, authz: "Bearer " + testKey, want: testKey},
		{name: "reports a missing key", wantErr: ErrMissing},
		{name: "reports blank headers as missing", apiKey: "  ", authz: " ", wantErr: ErrMissing},
		{name: "rejects another scheme", authz: "Basic dXNlcjpwYXNz", wantErr: ErrMalformed},
		{name: "rejects a bare key in authorization", authz: testKey, wantErr: ErrMalformed},
		{name: "rejects an empty bearer token", authz: "Bearer", wantErr: ErrMalformed},
		{name: "rejects an empty bearer token after a space", authz: "Bearer ", wantErr: ErrMalformed},
		{name: "rejects two different keys", apiKey: testKey, authz: "Bearer " + strings.Replace(testKey, "b", "c", 1), wantErr: ErrMalformed},
		{name: "rejects duplicate headers joined by a comma", apiKey: testKey + ", " + testKey, wantErr: ErrMalformed},
		{name: "rejects a key without the mg scheme", apiKey: "sk-" + testKey[3:], wantErr: ErrMalformed},
		{name: "rejects a truncated key", apiKey: testKey[:len(testKey)-1], wantErr: ErrMalformed},
		{name: "rejects a key that is too long", apiKey: testKey + "a", wantErr: ErrMalformed},
		{name: "rejects upper-case secret characters", apiKey: strings.ToUpper(testKey), wantErr: ErrMalformed},
		{name: "rejects a key with trailing words", authz: "Bearer " + testKey + " extra", wantErr: ErrMalformed},
		// Beside a valid x-api-key, Authorization is judged exactly as it
		// is alone: whatever its scheme, it must be Bearer and the same key.
		{name: "rejects another scheme beside a valid x-api-key", apiKey: testKey, authz: "Basic dXNlcjpwYXNz", wantErr: ErrMalformed},
		{name: "rejects a digest scheme beside a valid x-api-key", apiKey: testKey, authz: `Digest username="a"`, wantErr: ErrMalformed},
		{name: "rejects a bare key in authorization beside x-api-key", apiKey: testKey, authz: testKey, wantErr: ErrMalformed},
		{name: "rejects an empty bearer token beside x-api-key", apiKey: testKey, authz: "Bearer", wantErr: ErrMalformed},
		{name: "rejects a bearer token with extra words beside x-api-key", apiKey: testKey, authz: "Bearer " + testKey + " extra", wantErr: ErrMalformed},
		{name: "rejects a malformed bearer token beside x-api-key", apiKey: testKey, authz: "Bearer x", wantErr: ErrMalformed},
		{name: "rejects a malformed x-api-key beside a valid bearer token", apiKey: "x", authz: "Bearer " + testKey, wantErr: ErrMalformed},
		{name: "treats a blank authorization beside x-api-key as absent", apiKey: testKey, authz: "  ", want: testKey},
		{name: "rejects an empty environment", apiKey: "mg__" + testKey[8:], wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCredential(tt.apiKey, tt.authz)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseCredential(f *testing.F) {
	f.Add(testKey, "")
	f.Add("", "Bearer "+testKey)
	f.Add("", "bearer\t"+testKey)
	f.Add(testKey, "Basic Zm9vOmJhcg==")
	f.Add(testKey+", "+testKey, "")
	f.Add("mg_test_", "Bearer")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, apiKey, authorization string) {
		key, err := ParseCredential(apiKey, authorization)
		if err != nil {
			if key != "" {
				t.Fatalf("error %v with key %q", err, key)
			}
			return
		}
		// Whatever is accepted is a well-shaped key that came from one
		// of the two headers.
		if _, _, ok := splitKey(key); !ok {
			t.Fatalf("accepted malformed key %q", key)
		}
		if !strings.Contains(apiKey, key) && !strings.Contains(authorization, key) {
			t.Fatalf("key %q is in neither header", key)
		}
		// Every header present carries that same key: one rule, whatever
		// the Authorization scheme and whether x-api-key came too.
		if a := strings.Trim(apiKey, " \t"); a != "" && a != key {
			t.Fatalf("x-api-key %q accepted as key %q", apiKey, key)
		}
		if a := strings.Trim(authorization, " \t"); a != "" {
			if tok, ok := bearerToken(a); !ok || tok != key {
				t.Fatalf("authorization %q accepted beside key %q", authorization, key)
			}
		}
	})
}
