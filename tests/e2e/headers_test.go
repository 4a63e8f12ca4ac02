//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
)

// rawRequest writes a request by hand (Go's client refuses to send
// oversized headers) and reads Envoy's answer.
func rawRequest(t *testing.T, addr string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	var b strings.Builder
	b.WriteString("GET /v2/models HTTP/1.1\r\nHost: modelgate\r\n")
	for k, v := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	// Write and read concurrently: Envoy answers before it has read all.
	go func() { _, _ = io.WriteString(conn, b.String()) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "Envoy answered (instead of closing the connection)")
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// testOversizedHeaders: request headers over Envoy's limit get a 431
// problem answer, not a closed connection.
func testOversizedHeaders(t *testing.T, e *env) {
	addr := strings.TrimPrefix(e.s.URL(), "http://")
	t.Run("headers over the limit are 431 problem+json", func(t *testing.T) {
		resp, body := rawRequest(t, addr, map[string]string{"x-api-key": e.keys[clientPro].Secret, "x-padding": strings.Repeat("a", 70<<10)})
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, "%s", body)
		require.Equal(t, "application/problem+json", resp.Header.Get("content-type"))
		var p problem.Problem
		require.NoError(t, json.Unmarshal(body, &p), "%s", body)
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, p.Status)
		require.Equal(t, problem.TypeHeadersTooLarge, p.Type)
	})
	t.Run("headers under the limit are served", func(t *testing.T) {
		resp, body := rawRequest(t, addr, map[string]string{"x-api-key": e.keys[clientPro].Secret, "x-padding": strings.Repeat("a", 16<<10), "connection": "close"})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	})
}
