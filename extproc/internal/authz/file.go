package authz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileVersion is the only keys-file format version so far.
const FileVersion = 1

// File is the parsed keys file. It holds digests only, never a key.
type File struct {
	// Version is the file format version; 0 in a file means FileVersion.
	Version int
	// Keys lists every issued key, including revoked and expired ones, so
	// that ids are never reused and `keys list` can show the history.
	Keys []Entry
}

// Entry is one key in the keys file.
type Entry struct {
	// ID names the key; it is embedded in the key after the environment.
	ID string
	// Prefix is the visible part of the key, mg_<env>_<id>.
	Prefix string
	// Hash is "sha256:<hex>" or "hmac-sha256:<hex>" of the full key.
	Hash string
	// Client names the customer.
	Client string
	// Tier names the client's plan.
	Tier string
	// Models lists the models the key may use; "*" alone allows all.
	Models []string
	// Expires is when the key stops working; zero means never.
	Expires time.Time
	// Disabled marks a revoked key.
	Disabled bool
	// Created is when the key was issued; zero if unknown.
	Created time.Time
}

// Principal returns who the entry authenticates.
func (e *Entry) Principal() Principal {
	return Principal{KeyID: e.ID, Client: e.Client, Tier: e.Tier, Models: e.Models}
}

// Status describes the entry at now: "active", "revoked" or "expired".
func (e *Entry) Status(now time.Time) string {
	switch {
	case e.Disabled:
		return "revoked"
	case !e.Expires.IsZero() && !now.Before(e.Expires):
		return "expired"
	default:
		return "active"
	}
}

// rawFile and rawEntry are the YAML shapes; times stay strings so that a
// bad value is reported with its path instead of as a YAML type error.
type rawFile struct {
	Version int        `yaml:"version"`
	Keys    []rawEntry `yaml:"keys"`
}

type rawEntry struct {
	ID       string   `yaml:"id"`
	Prefix   string   `yaml:"prefix"`
	Hash     string   `yaml:"hash"`
	Client   string   `yaml:"client"`
	Tier     string   `yaml:"tier"`
	Models   []string `yaml:"models,flow"`
	Expires  string   `yaml:"expires,omitempty"`
	Disabled bool     `yaml:"disabled,omitempty"`
	Created  string   `yaml:"created,omitempty"`
}

// ParseFile decodes and validates a keys file. Unknown fields are errors.
// Every problem is reported at once, each with its path, for example
// "keys[3].hash: ...". Error messages never repeat a hash value.
func ParseFile(data []byte) (*File, error) {
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode keys file: %w", redactYAML(err))
	}
	f := &File{Version: raw.Version, Keys: make([]Entry, len(raw.Keys))}
	var errs []error
	for i, r := range raw.Keys {
		e := Entry{
			ID: r.ID, Prefix: r.Prefix, Hash: r.Hash, Client: r.Client,
			Tier: r.Tier, Models: r.Models, Disabled: r.Disabled,
		}
		var err error
		if r.Expires != "" {
			if e.Expires, err = time.Parse(time.RFC3339, r.Expires); err != nil {
				errs = append(errs, fmt.Errorf("keys[%d].expires: %q is not an RFC 3339 time", i, r.Expires))
			}
		}
		if r.Created != "" {
			if e.Created, err = time.Parse(time.RFC3339, r.Created); err != nil {
				errs = append(errs, fmt.Errorf("keys[%d].created: %q is not an RFC 3339 time", i, r.Created))
			}
		}
		f.Keys[i] = e
	}
	errs = append(errs, f.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// Validate checks every entry and returns all problems joined, each with
// its path.
func (f *File) Validate() error {
	var errs []error
	if f.Version != 0 && f.Version != FileVersion {
		errs = append(errs, fmt.Errorf("version: %d is not supported (want %d)", f.Version, FileVersion))
	}
	seen := make(map[string]int, len(f.Keys))
	for i := range f.Keys {
		e := &f.Keys[i]
		at := func(field, msg string, args ...any) {
			errs = append(errs, fmt.Errorf("keys[%d].%s: "+msg, append([]any{i, field}, args...)...))
		}
		switch {
		case e.ID == "":
			at("id", "is required")
		case !validID(e.ID):
			at("id", "%q is not %d characters of a-z and 2-7", e.ID, idLen)
		default:
			if j, dup := seen[e.ID]; dup {
				at("id", "%q is already used by keys[%d]", e.ID, j)
			} else {
				seen[e.ID] = i
			}
		}
		switch {
		case e.Prefix == "":
			at("prefix", "is required")
		case !validPrefix(e.Prefix, e.ID):
			at("prefix", "%q is not mg_<env>_<id> for id %q", e.Prefix, e.ID)
		}
		if e.Hash == "" {
			at("hash", "is required")
		} else if _, _, err := parseHash(e.Hash); err != nil {
			at("hash", "%w", err)
		}
		checkName(e.Client, func(msg string, args ...any) { at("client", msg, args...) })
		checkName(e.Tier, func(msg string, args ...any) { at("tier", msg, args...) })
		if len(e.Models) == 0 {
			at("models", `is required (use ["*"] for all models)`)
		}
		for k, m := range e.Models {
			field := fmt.Sprintf("models[%d]", k)
			switch {
			case m == AllModels && len(e.Models) > 1:
				at(field, `"*" must be the only entry`)
			case m == AllModels:
			default:
				checkName(m, func(msg string, args ...any) { at(field, msg, args...) })
			}
		}
	}
	return errors.Join(errs...)
}

// maxNameLen bounds client, tier and model names.
const maxNameLen = 64

// checkName enforces the character set of values that travel as header
// values and ratelimit descriptors: no spaces, no control characters.
func checkName(s string, report func(msg string, args ...any)) {
	if s == "" {
		report("is required")
		return
	}
	if len(s) > maxNameLen {
		report("is longer than %d characters", maxNameLen)
		return
	}
	for j := 0; j < len(s); j++ {
		c := s[j]
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			report("%q may hold only letters, digits, '-', '_' and '.'", s)
			return
		}
	}
}

// fileHeader opens every keys file written by this package.
const fileHeader = `# modelgate API keys. Managed by "extproc keys create|list|revoke".
# This file holds SHA-256 digests only, never a key: a lost key cannot be
# recovered from it, only revoked and replaced. Keep it mode 0600 anyway.
`

// Marshal renders f as YAML, in the form ParseFile reads.
func (f *File) Marshal() ([]byte, error) {
	raw := rawFile{Version: FileVersion, Keys: make([]rawEntry, len(f.Keys))}
	for i, e := range f.Keys {
		r := rawEntry{
			ID: e.ID, Prefix: e.Prefix, Hash: e.Hash, Client: e.Client,
			Tier: e.Tier, Models: e.Models, Disabled: e.Disabled,
		}
		if !e.Expires.IsZero() {
			r.Expires = e.Expires.Format(time.RFC3339)
		}
		if !e.Created.IsZero() {
			r.Created = e.Created.Format(time.RFC3339)
		}
		raw.Keys[i] = r
	}
	var buf bytes.Buffer
	buf.WriteString(fileHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(raw); err != nil {
		return nil, fmt.Errorf("encode keys file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode keys file: %w", err)
	}
	return buf.Bytes(), nil
}

// Index returns the position of the entry with id, or -1.
func (f *File) Index(id string) int {
	for i := range f.Keys {
		if f.Keys[i].ID == id {
			return i
		}
	}
	return -1
}

// redactYAML rewrites a YAML decoding error so that it cannot carry a
// digest into a log: the decoder quotes offending values in backticks, and
// an unknown-field error names the field, which could be anything. Runs of
// 16 or more hex digits are dropped as well.
func redactYAML(err error) error {
	msg := err.Error()
	var b strings.Builder
	for i := 0; i < len(msg); {
		c := msg[i]
		if c == '`' {
			end := strings.IndexByte(msg[i+1:], '`')
			if end >= 0 {
				b.WriteString("`<redacted>`")
				i += end + 2
				continue
			}
		}
		if isHex(c) {
			j := i
			for j < len(msg) && isHex(msg[j]) {
				j++
			}
			if j-i >= 16 {
				b.WriteString("<redacted>")
			} else {
				b.WriteString(msg[i:j])
			}
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	return errors.New(b.String())
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
