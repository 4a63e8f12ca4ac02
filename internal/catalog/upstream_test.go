package catalog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUpstreamManifest(t *testing.T) {
	t.Parallel()
	const head = `{"name":"remote","version":"1","format":"openai","algorithm":"upstream","created":"2026-12-03",` +
		`"output":{"kind":"text","name":"text"},"generation":{"context_length":4096,"vocab_size":32000,"tokenizer":"upstream","max_output_tokens":512}`
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{name: "accepts an upstream without artifact", body: head + `,"upstream":{"base_url":"http://vllm:8000/v1","model":"llama","api_key_env":"INFERENCE_UPSTREAM_KEY"}}`},
		{name: "rejects artifact and upstream together", body: head + `,"artifact":"w.bin","upstream":{"base_url":"http://x/v1","model":"m"}}`, wantErr: "not both"},
		{name: "rejects a base_url that is not http", body: head + `,"upstream":{"base_url":"file:///etc","model":"m"}}`, wantErr: "upstream.base_url"},
		{name: "rejects user info in base_url", body: head + `,"upstream":{"base_url":"http://u:p@x/v1","model":"m"}}`, wantErr: "no user info"},
		{name: "requires the upstream model", body: head + `,"upstream":{"base_url":"http://x/v1"}}`, wantErr: "upstream.model: required"},
		{name: "rejects a key variable outside the prefix", body: head + `,"upstream":{"base_url":"http://x/v1","model":"m","api_key_env":"AWS_SECRET_ACCESS_KEY"}}`, wantErr: "upstream.api_key_env"},
		{name: "still requires an artifact without upstream", body: head + `}`, wantErr: "artifact: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tc.body), 0o600))
			m, err := LoadManifest(dir, "remote", "1")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "llama", m.Upstream.Model)
		})
	}
}
