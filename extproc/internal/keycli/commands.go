package keycli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/extproc/internal/authz"
)

// issueAttempts bounds retries when a fresh key id collides with an
// existing one (40-bit ids make this rare, not impossible).
const issueAttempts = 5

func create(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) error {
	fs, file := newFlagSet("create", stderr, d)
	client := fs.String("client", "", "client the key belongs to (required)")
	tier := fs.String("tier", "", "client tier, e.g. free or pro (required)")
	models := fs.String("models", "", `comma-separated models the key may use, or "*" for all (required)`)
	expires := fs.String("expires", "", "expiry: a duration from now (720h, 30d) or an RFC 3339 time; empty means never")
	env := fs.String("env", authz.EnvLive, "key environment: live or test")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: create takes no arguments, got %q", ErrUsage, pos)
	}

	now := d.now().UTC().Truncate(time.Second)
	entry := authz.Entry{Client: *client, Tier: *tier, Models: splitModels(*models), Created: now}
	var errs []error
	if *expires != "" {
		if entry.Expires, err = parseExpiry(*expires, now); err != nil {
			errs = append(errs, fmt.Errorf("--expires: %w", err))
		}
	}
	if *env != authz.EnvLive && *env != authz.EnvTest {
		errs = append(errs, fmt.Errorf("--env: %q is not %s or %s", *env, authz.EnvLive, authz.EnvTest))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}

	f, err := readFile(*file, true)
	if err != nil {
		return err
	}
	var pepper []byte
	if p := d.getenv(EnvPepper); p != "" {
		pepper = []byte(p)
	}
	var issued authz.IssuedKey
	for attempt := 0; ; attempt++ {
		if issued, err = authz.Issue(*env, d.random, pepper); err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		if f.Index(issued.ID) < 0 {
			break
		}
		if attempt == issueAttempts {
			return fmt.Errorf("create key: no unused key id after %d attempts", issueAttempts)
		}
	}
	entry.ID, entry.Prefix, entry.Hash = issued.ID, issued.Prefix, issued.Hash

	// Validate the new entry alone first so that problems name the flags.
	if err := (&authz.File{Keys: []authz.Entry{entry}}).Validate(); err != nil {
		return fmt.Errorf("%w: %s", ErrUsage, strings.ReplaceAll(err.Error(), "keys[0].", "--"))
	}
	f.Keys = append(f.Keys, entry)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	if err := writeFile(*file, f); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "key:     %s\n", issued.Key)
	fmt.Fprintf(stdout, "id:      %s\nprefix:  %s\nclient:  %s\ntier:    %s\nmodels:  %s\nexpires: %s\n",
		entry.ID, entry.Prefix, entry.Client, entry.Tier, strings.Join(entry.Models, ","), formatExpiry(entry.Expires))
	fmt.Fprintf(stderr, "Store the key now: it is shown only once, and %s keeps only its hash.\n", *file)
	return nil
}

func list(_ context.Context, args []string, stdout, stderr io.Writer, d deps) error {
	fs, file := newFlagSet("list", stderr, d)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: list takes no arguments, got %q", ErrUsage, pos)
	}
	f, err := readFile(*file, false)
	if err != nil {
		return err
	}
	now := d.now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tCLIENT\tTIER\tMODELS\tEXPIRES\tSTATUS")
	for i := range f.Keys {
		e := &f.Keys[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Prefix, e.Client, e.Tier,
			strings.Join(e.Models, ","), formatExpiry(e.Expires), e.Status(now))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	return nil
}

func revoke(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) error {
	fs, file := newFlagSet("revoke", stderr, d)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: revoke takes exactly one key id, got %d arguments", ErrUsage, len(pos))
	}
	id := pos[0]
	f, err := readFile(*file, false)
	if err != nil {
		return err
	}
	i := f.Index(id)
	if i < 0 {
		return fmt.Errorf("revoke key: no key with id %q in %s", id, *file)
	}
	e := &f.Keys[i]
	if e.Disabled {
		fmt.Fprintf(stdout, "key %s (client %s) was already revoked\n", id, e.Client)
		return nil
	}
	e.Disabled = true
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	if err := writeFile(*file, f); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked key %s (prefix %s, client %s)\n", id, e.Prefix, e.Client)
	return nil
}

// splitModels turns "iris, diabetes" into ["iris" "diabetes"].
func splitModels(s string) []string {
	var out []string
	for m := range strings.SplitSeq(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// parseExpiry reads a duration from now (Go syntax, or whole days as "30d")
// or an RFC 3339 time. The result must lie in the future.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	var t time.Time
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return t, fmt.Errorf("%q is not a number of days", s)
		}
		t = now.AddDate(0, 0, n)
	} else if dur, err := time.ParseDuration(s); err == nil {
		t = now.Add(dur)
	} else if t, err = time.Parse(time.RFC3339, s); err != nil {
		return t, fmt.Errorf("%q is neither a duration (720h, 30d) nor an RFC 3339 time", s)
	}
	if !t.After(now) {
		return t, fmt.Errorf("%q is not in the future", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// readFile reads and validates the keys file. With missingOK, a file that
// does not exist yet reads as empty.
func readFile(path string, missingOK bool) (*authz.File, error) {
	data, err := os.ReadFile(path)
	if missingOK && errors.Is(err, fs.ErrNotExist) {
		return &authz.File{Version: authz.FileVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keys file: %w", err)
	}
	f, err := authz.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return f, nil
}
