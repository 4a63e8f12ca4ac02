package webhook

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// secretsFile is the webhook secrets file: each client's secrets, newest
// first. Two are kept during a rotation, and messages are signed with
// both until the old one is removed.
//
//	clients:
//	  alice: [whsec_new…, whsec_old…]
type secretsFile struct {
	Clients map[string][]string `yaml:"clients"`
}

// SecretFile reads the secrets file, again whenever it changes.
type SecretFile struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	by   map[string][]Secret
}

// OpenSecrets reads the secrets file at path; a file that does not exist
// yet holds no secrets.
func OpenSecrets(path string) (*SecretFile, error) {
	f := &SecretFile{path: path}
	return f, f.reload()
}

func (f *SecretFile) reload() error {
	fi, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		f.by = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("webhook secrets: %w", err)
	}
	if fi.ModTime().Equal(f.mod) && f.by != nil {
		return nil
	}
	sf, err := readSecrets(f.path)
	if err != nil {
		return err
	}
	by := map[string][]Secret{}
	var errs []error
	for client, list := range sf.Clients {
		for i, s := range list {
			sec, err := ParseSecret(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("webhook secrets: clients.%s[%d]: %w", client, i, err))
				continue
			}
			by[client] = append(by[client], sec)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	f.by, f.mod = by, fi.ModTime()
	return nil
}

// Secrets implements the dispatcher's lookup: the client's secrets,
// newest first. A file that fails to parse keeps the last good secrets.
func (f *SecretFile) Secrets(client string) []Secret {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = f.reload()
	return f.by[client]
}

func readSecrets(path string) (secretsFile, error) {
	var sf secretsFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return sf, fmt.Errorf("webhook secrets: %w", err)
	}
	if err := yaml.Unmarshal(b, &sf); err != nil {
		return sf, fmt.Errorf("webhook secrets %s: %w", path, err)
	}
	return sf, nil
}

// Rotate gives client a new secret, keeping the newest previous one for
// the rotation (keep false drops every previous one: create, or the end of
// a rotation). It replaces the file atomically and returns the new secret.
func Rotate(path, client string, keep bool, random io.Reader) (Secret, error) {
	if client == "" {
		return nil, errors.New("a client name is required")
	}
	sf, err := readSecrets(path)
	if err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	sec := make(Secret, 32)
	if _, err := io.ReadFull(random, sec); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	if sf.Clients == nil {
		sf.Clients = map[string][]string{}
	}
	list := []string{sec.String()}
	if old := sf.Clients[client]; keep && len(old) > 0 {
		list = append(list, old[0])
	}
	sf.Clients[client] = list
	b, err := yaml.Marshal(sf)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".webhook-secrets-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := errors.Join(tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, err
	}
	return sec, os.Rename(tmp.Name(), path)
}
