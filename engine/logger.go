package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// pebbleLogger routes Pebble's logs to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is Pebble's answer to a state it cannot continue from (a failed
// MANIFEST write, for one): it logs and exits. The message also goes to
// stderr, so that it is never lost to a discarding logger. On-disk
// corruption does not come here (DB.onCorruption), and the engine keeps
// space free so that Pebble's writes do not fail (space.go).
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Log(context.Background(), slog.LevelError+4, msg, "component", "pebble")
	fmt.Fprintln(os.Stderr, "pebble: fatal:", msg)
	os.Exit(1)
}
