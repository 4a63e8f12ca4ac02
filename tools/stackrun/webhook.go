package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// demoSecret returns the demo client's webhook secret, creating it with
// the inference CLI on the first run; it is kept beside the demo key.
func demoSecret(ctx context.Context, inference, secretsFile, keep string) (string, error) {
	if b, err := os.ReadFile(keep); err == nil {
		if _, err := os.Stat(secretsFile); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	out, err := exec.CommandContext(ctx, inference, "webhook-secret", "create", "--client", "demo", "--file", secretsFile).Output()
	if err != nil {
		return "", fmt.Errorf("create the demo webhook secret: %w", err)
	}
	sec := strings.TrimSpace(string(out))
	return sec, os.WriteFile(keep, []byte(sec+"\n"), 0o600)
}

// startReceiver serves a local webhook receiver for the demo: it checks
// each delivery's Standard Webhooks signature and prints one line.
func startReceiver(ctx context.Context, addr, secret string) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("demo webhook secret: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("webhook receiver: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		verdict := "signature NOT valid"
		for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
			if hmac.Equal([]byte(sig), []byte(want)) {
				verdict = "signature valid"
			}
		}
		var ev struct {
			Type string
			Data struct{ ID, Status string }
		}
		_ = json.Unmarshal(body, &ev)
		fmt.Printf("%s webhook %s %s (%s, webhook-id %s)\n", time.Now().Format("15:04:05"), ev.Type, ev.Data.ID, verdict, id)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return "http://" + ln.Addr().String() + "/webhook", nil
}

// jobExample is the job part of the greeting.
func jobExample(url, key, hook string, secretsFile string) string {
	return fmt.Sprintf(`  an async job, announced to a local receiver that checks its signature:
    curl -s %[1]s/v2/jobs -H 'x-api-key: %[2]s' -H 'content-type: application/json' \
      -d '{"model":"iris","webhook":"%[3]s","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}'
    then GET %[1]s/v2/jobs/<id> (same key); webhook secrets in %[4]s
`, url, key, hook, filepath.Base(secretsFile))
}
