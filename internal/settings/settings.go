// Package settings reads a service's settings from one typed struct. Each
// setting is a field whose tags say everything about it once:
//
//	Addr string `env:"INFERENCE_ADDR" flag:"addr" default:":8000" usage:"HTTP listen address"`
//
// env names the environment variable that overrides it, flag (optional)
// the command-line flag, default its built-in value and usage its meaning.
// A YAML key, where the struct has one, comes from the yaml tags along the
// field's path ("cache.ttl"). From these tags the package sets defaults
// ([Defaults]), applies environment overrides ([FromEnv]) and flags
// ([Flags]), and lists the settings for documentation ([List], [Table]),
// so adding a setting is adding a field.
//
// Fields of kind string, bool, int, int64, []string (comma-separated),
// time.Duration, or of a type whose pointer implements
// encoding.TextUnmarshaler can have an env or flag tag. A field with only a
// usage tag is a YAML-only setting (a map, a list of rules): listed for the
// documentation, set only by the YAML. Struct fields without tags are
// walked into; other untagged fields are left alone.
package settings

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Setting describes one setting, for documentation.
type Setting struct {
	// Env is the environment variable; empty for a flag-only setting.
	Env string
	// Flag is the command-line flag, without dashes; empty when none.
	Flag string
	// Key is the YAML key path; empty where the struct is not read from
	// YAML, "-" where the field has yaml:"-".
	Key string
	// Default is the setting's value in the struct List was given,
	// formatted as it would be parsed.
	Default string
	// Usage says what the setting does.
	Usage string
}

// field is a setting bound to the struct it was found in.
type field struct {
	Setting
	def      string
	yamlOnly bool
	value    reflect.Value
}

// fields walks the settings struct cfg points to, in field order.
func fields(cfg any) ([]field, error) {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("settings: want a pointer to a struct, got %T", cfg)
	}
	var out []field
	err := walk(v.Elem(), "", &out)
	return out, err
}

func walk(v reflect.Value, prefix string, out *[]field) error {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key := yamlKey(sf, prefix)
		env, hasEnv := sf.Tag.Lookup("env")
		flagName, hasFlag := sf.Tag.Lookup("flag")
		usage, hasUsage := sf.Tag.Lookup("usage")
		switch {
		case hasEnv || hasFlag:
			if !supported(sf.Type) {
				return fmt.Errorf("settings: field %s: type %s cannot be set from text", sf.Name, sf.Type)
			}
		case hasUsage:
			// A YAML-only setting (a map, a list of rules): listed, never
			// set from text.
			*out = append(*out, field{Setting: Setting{Key: key, Usage: usage}, yamlOnly: true, value: v.Field(i)})
			continue
		case sf.Type.Kind() == reflect.Struct && !isText(sf.Type):
			if err := walk(v.Field(i), key, out); err != nil {
				return err
			}
			continue
		default:
			continue
		}
		*out = append(*out, field{
			Setting: Setting{Env: env, Flag: flagName, Key: key, Usage: usage},
			def:     sf.Tag.Get("default"),
			value:   v.Field(i),
		})
	}
	return nil
}

// yamlKey is the dotted YAML path of sf below prefix: "" when the struct
// has no yaml tags, "-" when the field is not read from YAML.
func yamlKey(sf reflect.StructField, prefix string) string {
	tag, ok := sf.Tag.Lookup("yaml")
	name, _, _ := strings.Cut(tag, ",")
	switch {
	case !ok:
		return prefix
	case name == "-" || prefix == "-":
		return "-"
	case prefix == "":
		return name
	default:
		return prefix + "." + name
	}
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func isText(t reflect.Type) bool { return reflect.PointerTo(t).Implements(textType) }

func supported(t reflect.Type) bool {
	if isText(t) || t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// set parses s into v; the error says what s is not.
func set(v reflect.Value, s string) error {
	if isText(v.Type()) {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		return nil
	}
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (such as 300s)", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Slice:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
	}
	return nil
}

// format renders v as set would parse it.
func format(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		if err == nil {
			return string(b)
		}
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Slice:
		return strings.Join(v.Convert(reflect.TypeFor[[]string]()).Interface().([]string), ",")
	}
	return v.String()
}

// Defaults sets every setting of the struct cfg points to to its default
// tag; a setting without one keeps its value. A default that does not
// parse is an error in the code, reported with the field's name.
func Defaults(cfg any) error {
	fs, err := fields(cfg)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range fs {
		if f.def == "" {
			continue
		}
		if err := set(f.value, f.def); err != nil {
			errs = append(errs, fmt.Errorf("settings: default of %s: %w", f.name(), err))
		}
	}
	return errors.Join(errs...)
}

// FromEnv applies the environment variables getenv reports set (not
// empty) to the struct cfg points to. Every value that does not parse is
// reported, named by its variable: "EXTPROC_CACHE_TTL: "soon" is not a
// duration (such as 300s)".
func FromEnv(cfg any, getenv func(string) string) error {
	fs, err := fields(cfg)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range fs {
		if f.Env == "" {
			continue
		}
		if s := getenv(f.Env); s != "" {
			if err := set(f.value, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Env, err))
			}
		}
	}
	return errors.Join(errs...)
}

// List describes the settings of the struct cfg points to, with the
// values it holds as defaults: pass it a struct holding the defaults.
func List(cfg any) ([]Setting, error) {
	fs, err := fields(cfg)
	if err != nil {
		return nil, err
	}
	out := make([]Setting, len(fs))
	for i, f := range fs {
		out[i] = f.Setting
		if !f.yamlOnly {
			out[i].Default = format(f.value)
		}
	}
	return out, nil
}

// name is how errors in the code name the setting.
func (f field) name() string {
	if f.Env != "" {
		return f.Env
	}
	return "--" + f.Flag
}
