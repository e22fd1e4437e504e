package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine/recur"
)

// QueryConfig bounds the expensive REPORTs (calendar-query and
// free-busy-query): recurrence work per expansion, how many run at once,
// how long one waits for its turn, and the data one holds before its
// answer starts.
type QueryConfig struct {
	MaxRecurrenceWork int
	MaxConcurrent     int
	QueueWait         time.Duration
	Buffer            int64
}

func (c *QueryConfig) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxRecurrenceWork, "max-recurrence-work", recur.DefaultMaxIterations,
		"most recurrence steps (occurrences computed, kept or not, and overrides) of one expansion (more: CALDAV:max-instances)")
	fs.IntVar(&c.MaxConcurrent, "max-concurrent-queries", 0,
		"calendar-query and free-busy-query REPORTs evaluated at once (0: 2 × GOMAXPROCS; negative: no limit)")
	fs.DurationVar(&c.QueueWait, "query-queue-wait", 5*time.Second,
		"how long a query waits for its turn before it gets 503 with Retry-After")
	fs.Int64Var(&c.Buffer, "query-buffer", 16<<20,
		"`bytes` of matching data one calendar-query holds before its answer starts; past it, matches are read again as they are written")
}

// validate reports the first invalid field as a *ConfigError.
func (c *QueryConfig) validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, a...)}
	}
	switch {
	case c.MaxRecurrenceWork <= 0:
		return bad("max-recurrence-work", "must be positive, got %d", c.MaxRecurrenceWork)
	case c.QueueWait <= 0:
		return bad("query-queue-wait", "must be positive, got %s", c.QueueWait)
	case c.Buffer <= 0:
		return bad("query-buffer", "must be positive, got %d", c.Buffer)
	}
	return nil
}

// limits returns the query.Limits of c and the serve flags it lives with.
func (c *QueryConfig) limits(maxInstances int, maxExpandRange time.Duration) query.Limits {
	return query.Limits{MaxInstances: maxInstances, MaxExpandRange: maxExpandRange, MaxIterations: c.MaxRecurrenceWork,
		MaxConcurrent: c.MaxConcurrent, QueueWait: c.QueueWait, MaxBuffer: c.Buffer}
}
