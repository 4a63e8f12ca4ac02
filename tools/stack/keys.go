package stack

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Key is an API key issued with `extproc keys create`.
type Key struct {
	// Secret is the full key, shown once by the CLI.
	Secret string
	ID     string
	Client string
	Tier   string
}

// CreateKey issues a key into the keys file with the plugin's own CLI.
// models is a comma list or "*"; extra flags (e.g. "--expires", "2s") are
// passed through.
func CreateKey(ctx context.Context, extproc, file, client, tier, models string, extra ...string) (Key, error) {
	args := append([]string{"keys", "create", "--file", file, "--client", client, "--tier", tier, "--models", models}, extra...)
	out, err := exec.CommandContext(ctx, extproc, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return Key{}, fmt.Errorf("extproc keys create: %w: %s", err, ee.Stderr)
		}
		return Key{}, fmt.Errorf("extproc keys create: %w", err)
	}
	k := Key{Client: client, Tier: tier}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(name) {
		case "key":
			k.Secret = strings.TrimSpace(value)
		case "id":
			k.ID = strings.TrimSpace(value)
		}
	}
	if k.Secret == "" || k.ID == "" {
		return Key{}, fmt.Errorf("extproc keys create: no key in output %q", out)
	}
	return k, nil
}

// RevokeKey revokes a key by id with the plugin's CLI.
func RevokeKey(ctx context.Context, extproc, file, id string) error {
	out, err := exec.CommandContext(ctx, extproc, "keys", "revoke", "--file", file, id).CombinedOutput()
	if err != nil {
		return fmt.Errorf("extproc keys revoke %s: %w: %s", id, err, out)
	}
	return nil
}
