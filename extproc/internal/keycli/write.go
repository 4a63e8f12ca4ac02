package keycli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/extproc/internal/authz"
)

// fileMode keeps the keys file private to its owner. It holds no secret,
// but digests still let an attacker test guesses offline.
const fileMode = 0o600

// writeFile replaces path with f atomically: a reader sees either the old
// file or the new one, never a mix, and a crash leaves one of the two.
func writeFile(path string, f *authz.File) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	// Write where a symlink points, so the link survives the rename.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write keys file: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	ok = true
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
