// Package keycli implements `extproc keys create|list|revoke`, the
// operator's tool for the API keys file read by [authz.Store].
//
// The file only ever holds digests. create prints a new key once; list and
// revoke never see a secret. Every write replaces the file by an atomic
// rename (temp file, fsync, rename, fsync of the directory), so a running
// extproc watching the file never reads half of it, and a revoked key stops
// working within the store's reload delay.
package keycli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Environment variables read by the keys commands.
const (
	// EnvFile names the keys file when --file is not given.
	EnvFile = "EXTPROC_KEYS_FILE"
	// EnvPepper, when set, makes create store an HMAC-SHA-256 keyed with
	// its value instead of a plain SHA-256. extproc must then be started
	// with the same pepper.
	EnvPepper = "EXTPROC_KEYS_PEPPER"
	// DefaultFile is the keys file when neither --file nor EnvFile is set.
	DefaultFile = "extproc/keys.yaml"
)

// ErrUsage marks errors in the command line itself.
var ErrUsage = errors.New("usage")

const usage = `usage: extproc keys <command> [flags]

commands:
  create --client NAME --tier NAME --models a,b|* [--expires 720h|30d|RFC3339] [--env live|test]
         generate a key, print it once, and store its hash
  list   print every key (id, prefix, client, tier, models, expires, status)
  revoke ID
         disable a key; running extproc instances stop accepting it within seconds

every command takes --file PATH (default $` + EnvFile + `, else ` + DefaultFile + `)
`

// deps are the process's clock, randomness and environment, injected so
// tests can pin them.
type deps struct {
	now    func() time.Time
	random io.Reader
	getenv func(string) string
}

// Run executes a keys command. args are the arguments after "keys". Output
// meant for scripts goes to stdout, guidance to stderr. A failure is
// returned, so the caller can exit non-zero.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr, deps{now: time.Now, random: rand.Reader, getenv: os.Getenv})
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: missing command (create, list or revoke)", ErrUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "create":
		return create(ctx, rest, stdout, stderr, d)
	case "list":
		return list(ctx, rest, stdout, stderr, d)
	case "revoke":
		return revoke(ctx, rest, stdout, stderr, d)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q (want create, list or revoke)", ErrUsage, cmd)
	}
}

// newFlagSet returns a flag set with the common --file flag.
func newFlagSet(name string, stderr io.Writer, d deps) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("extproc keys "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := d.getenv(EnvFile)
	if def == "" {
		def = DefaultFile
	}
	file := fs.String("file", def, "keys file (env "+EnvFile+")")
	return fs, file
}

// parse parses flags that may come before or after positional arguments
// ("revoke ID --file x" as well as "revoke --file x ID") and returns the
// positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
