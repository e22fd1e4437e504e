package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newConfigFlagSet is a flag set like serve's: its own flags plus one a hook
// would register.
func newConfigFlagSet() (*flag.FlagSet, map[string]*string) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(syncBuffer))
	vals := map[string]*string{}
	for _, name := range []string{"listen", "data", "log-level", "grpc-listen"} {
		vals[name] = fs.String(name, "default-"+name, "")
	}
	fs.String(configFlag, "", "")
	return fs, vals
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "almanac.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseLayeredPrecedence(t *testing.T) {
	file := writeConfig(t, `
listen = "toml-listen"
data = "toml-data"
log-level = "toml-level"
`)
	env := map[string]string{
		"ALMANAC_LISTEN":      "env-listen",
		"ALMANAC_DATA":        "env-data",
		"ALMANAC_GRPC_LISTEN": "env-grpc",
		"ALMANAC_CONFIG":      file,
	}
	fs, vals := newConfigFlagSet()
	if err := parseLayered(fs, []string{"--listen=flag-listen"}, func(k string) string { return env[k] }, true); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"listen":      "flag-listen", // flag > env > TOML
		"data":        "env-data",    // env > TOML
		"log-level":   "toml-level",  // TOML > default
		"grpc-listen": "env-grpc",    // hook flags get env too
	} {
		if got := *vals[name]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	t.Run("Default", func(t *testing.T) {
		fs, vals := newConfigFlagSet()
		if err := parseLayered(fs, nil, func(string) string { return "" }, true); err != nil {
			t.Fatal(err)
		}
		if got, want := *vals["data"], "default-data"; got != want {
			t.Errorf("data = %q, want %q", got, want)
		}
	})
	t.Run("ConfigFlagBeatsEnv", func(t *testing.T) {
		other := writeConfig(t, `data = "other-toml"`)
		fs, vals := newConfigFlagSet()
		if err := parseLayered(fs, []string{"--config", other}, func(k string) string {
			if k == "ALMANAC_CONFIG" {
				return file
			}
			return ""
		}, true); err != nil {
			t.Fatal(err)
		}
		if got, want := *vals["data"], "other-toml"; got != want {
			t.Errorf("data = %q, want %q", got, want)
		}
	})
}

func TestParseLayeredErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name      string
		toml      string
		env       map[string]string
		args      []string
		strict    bool
		wantField string
	}{
		{name: "ErrUnknownTOMLKey", toml: `listn = "x"`, strict: true, wantField: "listn"},
		{name: "ErrTOMLTable", toml: "[listen]\na = 1\n", strict: true, wantField: "listen"},
		{name: "ErrBadTOML", toml: `listen = `, strict: true, wantField: "config"},
		{name: "ErrBadEnvValue", env: map[string]string{"ALMANAC_SIZE": "ten"}, wantField: "size"},
		{name: "ErrBadTOMLValue", toml: `size = "ten"`, strict: true, wantField: "size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := newConfigFlagSet()
			fs.Int64("size", 1, "")
			args := tc.args
			if tc.toml != "" {
				args = append(args, "--config="+writeConfig(t, tc.toml))
			}
			getenv := noEnv
			if tc.env != nil {
				getenv = func(k string) string { return tc.env[k] }
			}
			err := parseLayered(fs, args, getenv, tc.strict)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.wantField {
				t.Errorf("field = %q, want %q (err %v)", ce.Field, tc.wantField, err)
			}
		})
	}
	t.Run("NonStrictIgnoresOtherKeys", func(t *testing.T) {
		fs, vals := newConfigFlagSet()
		file := writeConfig(t, "tls-cert = \"x\"\ndata = \"d\"\n")
		if err := parseLayered(fs, []string{"--config=" + file}, noEnv, false); err != nil {
			t.Fatal(err)
		}
		if got := *vals["data"]; got != "d" {
			t.Errorf("data = %q, want d", got)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		fs, _ := newConfigFlagSet()
		if err := parseLayered(fs, []string{"stray"}, noEnv, true); !errors.Is(err, errUsage) {
			t.Errorf("err = %v, want errUsage", err)
		}
	})
}

func TestServeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		wantField string
	}{
		{[]string{"--listen=nonsense"}, "listen"},
		{[]string{"--log-level=loud"}, "log-level"},
		{[]string{"--log-format=xml"}, "log-format"},
		{[]string{"--max-object-size=0"}, "max-object-size"},
		{[]string{"--tls-cert=c.pem"}, "tls-key"},
		{[]string{"--tls-key=k.pem"}, "tls-cert"},
		{[]string{"--data="}, "data"},
		{[]string{"--shutdown-timeout=0s"}, "shutdown-timeout"},
	} {
		m := NewMain()
		m.Getenv = func(string) string { return "" }
		m.LogOutput = new(syncBuffer)
		err := m.ParseFlags(tc.args)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.wantField {
			t.Errorf("ParseFlags(%v) = %v, want a *ConfigError for %s", tc.args, err, tc.wantField)
		}
	}
	t.Run("OK", func(t *testing.T) {
		m := NewMain()
		m.Getenv = func(k string) string {
			return map[string]string{"ALMANAC_MAX_OBJECT_SIZE": "2048", "ALMANAC_LOG_FORMAT": "json"}[k]
		}
		if err := m.ParseFlags(nil); err != nil {
			t.Fatal(err)
		}
		if m.Config.MaxObjectSize != 2048 || m.Config.LogFormat != "json" || m.Config.Listen != "127.0.0.1:8080" {
			t.Errorf("config = %+v", m.Config)
		}
	})
}

func TestEnvName(t *testing.T) {
	if got, want := envName("max-object-size"), "ALMANAC_MAX_OBJECT_SIZE"; got != want {
		t.Errorf("envName = %q, want %q", got, want)
	}
}

func TestQueryLimitFlags(t *testing.T) {
	for _, args := range [][]string{{"--max-instances=0"}, {"--max-expand-range=-1h"}} {
		m := NewMain()
		m.Getenv = func(string) string { return "" }
		err := m.ParseFlags(args)
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(args[0], "--"+ce.Field+"=") {
			t.Errorf("%v: err = %v, want a ConfigError naming the flag", args, err)
		}
	}
}
