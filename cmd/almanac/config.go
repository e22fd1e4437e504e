package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "ALMANAC_"

// configFlag is the flag naming the TOML file. It is itself layered: the
// command line, then ALMANAC_CONFIG.
const configFlag = "config"

// ConfigError reports a bad configuration value and where it came from.
type ConfigError struct {
	Field  string // the flag name, e.g. "max-object-size"
	Source string // "flag --max-object-size", "env ALMANAC_MAX_OBJECT_SIZE", "config file x.toml"
	Err    error
}

// Error names the field and the source of the bad value.
func (e *ConfigError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s (from %s): %v", e.Field, e.Source, e.Err)
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// envName returns the environment variable of flag name:
// "max-object-size" -> "ALMANAC_MAX_OBJECT_SIZE".
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// parseLayered parses args into fs and then fills every flag not given on
// the command line from its environment variable, then from the TOML file
// named by --config (or ALMANAC_CONFIG), leaving the default otherwise:
// flag > env > TOML > default. It applies to every flag of fs, the ones
// serve hooks register included. getenv is os.Getenv outside tests. strict
// rejects TOML keys that are not flags of fs.
//
// Errors: a *flagError wrapping flag.ErrHelp for -h; a *ConfigError naming the field for a bad
// value, an unknown TOML key or an unreadable config file; other flag
// parsing errors wrapped with errUsage, in a *flagError.
func parseLayered(fs *flag.FlagSet, args []string, getenv func(string) string, strict bool) error {
	fs.SetOutput(io.Discard) // run prints the usage and flags (flagError)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &flagError{fs, err}
		}
		return &flagError{fs, fmt.Errorf("%w: %v", errUsage, err)}
	}
	if fs.NArg() > 0 {
		return &flagError{fs, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// Environment, for flags not on the command line.
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || firstErr != nil {
			return
		}
		env := envName(f.Name)
		v, ok := lookupEnv(getenv, env)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			firstErr = &ConfigError{Field: f.Name, Source: "env " + env, Err: err}
			return
		}
		set[f.Name] = true
	})
	if firstErr != nil {
		return firstErr
	}

	// The TOML file, for the rest.
	cf := fs.Lookup(configFlag)
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	return applyTOML(fs, cf.Value.String(), set, strict)
}

// lookupEnv treats an empty variable as unset, so that `ALMANAC_X= almanac`
// does not override the TOML file with an empty string.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// applyTOML sets the flags not in set from the keys of the TOML file path.
// Keys are flag names; an unknown key is an error, so typos do not pass
// silently, unless strict is false (commands such as `user` that read the
// server's file for --data only).
func applyTOML(fs *flag.FlagSet, path string, set map[string]bool, strict bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &ConfigError{Field: configFlag, Err: fmt.Errorf("read config file: %w", err)}
	}
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		return &ConfigError{Field: configFlag, Source: "config file " + path, Err: fmt.Errorf("parse TOML: %w", err)}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		src := "config file " + path
		f := fs.Lookup(k)
		if f == nil || k == configFlag {
			if !strict {
				continue // a setting of another command sharing the file
			}
			return &ConfigError{Field: k, Source: src, Err: errors.New("unknown setting")}
		}
		if set[k] {
			continue
		}
		v, err := tomlString(m[k])
		if err != nil {
			return &ConfigError{Field: k, Source: src, Err: err}
		}
		if err := fs.Set(k, v); err != nil {
			return &ConfigError{Field: k, Source: src, Err: err}
		}
	}
	return nil
}

// tomlString renders a scalar TOML value as the text a flag parses.
func tomlString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, int64, float64:
		return fmt.Sprint(v), nil
	case time.Duration:
		return v.String(), nil
	default:
		return "", fmt.Errorf("want a string, number or boolean, got %T", v)
	}
}
