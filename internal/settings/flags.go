package settings

import (
	"errors"
	"flag"
	"fmt"
	"reflect"
	"strings"
)

// Flags registers a flag on fs for every setting of the struct cfg points
// to that has a flag tag, showing the value cfg holds as its default: call
// it after [Defaults] and [FromEnv], so that flags win over the
// environment. Parsing fs only records what was given; the returned apply
// sets it, reporting every value that does not parse at once, named by its
// flag ("max-batch-rows: "x" is not an integer").
func Flags(fs *flag.FlagSet, cfg any) (apply func() error, err error) {
	all, err := fields(cfg)
	if err != nil {
		return nil, err
	}
	var given []*flagValue
	for _, f := range all {
		if f.Flag == "" {
			continue
		}
		fv := &flagValue{f: f}
		usage := f.Usage
		if f.Env != "" {
			usage += " (env " + f.Env + ")"
		}
		if f.Env == "" && f.value.Kind() == reflect.Bool {
			fs.Var((*switchValue)(fv), f.Flag, usage)
		} else {
			fs.Var(fv, f.Flag, usage)
		}
		given = append(given, fv)
	}
	return func() error {
		var errs []error
		for _, fv := range given {
			if !fv.set {
				continue
			}
			if err := set(fv.f.value, fv.raw); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", fv.f.Flag, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// flagValue is a [flag.Value] that keeps the text it is given until apply.
type flagValue struct {
	f   field
	raw string
	set bool
}

// String implements [flag.Value]: the setting's current value. The flag
// package also calls it on a zero flagValue.
func (v *flagValue) String() string {
	if v == nil || !v.f.value.IsValid() {
		return ""
	}
	if v.set {
		return v.raw
	}
	return format(v.f.value)
}

// Set implements [flag.Value].
func (v *flagValue) Set(s string) error {
	v.raw, v.set = s, true
	return nil
}

// switchValue is the flag of a boolean setting without a variable, a
// switch such as --check-config: it stands alone. A boolean that also has
// a variable takes a value as its variable does (--watch=false, or --watch
// false).
type switchValue flagValue

// String implements [flag.Value]; a zero switch is off, so the flag
// package does not print a default of false.
func (v *switchValue) String() string {
	if v == nil || !v.f.value.IsValid() {
		return "false"
	}
	return (*flagValue)(v).String()
}

// Set implements [flag.Value].
func (v *switchValue) Set(s string) error { return (*flagValue)(v).Set(s) }

// IsBoolFlag lets the switch stand alone.
func (v *switchValue) IsBoolFlag() bool { return true }

// Column is a column of [Table].
type Column int

// The columns [Table] can render.
const (
	ColumnFlag Column = iota
	ColumnEnv
	ColumnKey
	ColumnDefault
	ColumnUsage
)

var headers = [...]string{ColumnFlag: "flag", ColumnEnv: "env", ColumnKey: "YAML key", ColumnDefault: "default", ColumnUsage: "meaning"}

// Table renders settings as a Markdown table of the given columns, for a
// README: names and values in code spans, an empty default as (unset), a
// key of "-" as (env only), the variable of a YAML-only setting as (YAML
// only).
func Table(settings []Setting, cols ...Column) string {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = headers[c]
	}
	row(cells)
	b.WriteString(strings.Repeat("|---", len(cols)) + "|\n")
	for _, s := range settings {
		for i, c := range cols {
			cells[i] = cell(s, c)
		}
		row(cells)
	}
	return b.String()
}

func cell(s Setting, c Column) string {
	code := func(v string) string { return "`" + v + "`" }
	switch c {
	case ColumnFlag:
		if s.Flag == "" {
			return ""
		}
		return code("--" + s.Flag)
	case ColumnEnv:
		if s.Env == "" && s.Flag == "" {
			return "(YAML only)"
		}
		if s.Env == "" {
			return ""
		}
		return code(s.Env)
	case ColumnKey:
		if s.Key == "-" {
			return code("(env only)")
		}
		return code(s.Key)
	case ColumnDefault:
		if s.Default == "" {
			return code("(unset)")
		}
		return code(s.Default)
	default:
		return s.Usage
	}
}
