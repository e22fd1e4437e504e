package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Result is one scenario's outcome at one collection size and concurrency.
// It is printed as one JSON line.
type Result struct {
	Server   string `json:"server"`
	Scenario string `json:"scenario"`
	N        int    `json:"n"`           // collection size or objects written
	C        int    `json:"c,omitempty"` // concurrent clients
	Summary
	Ops        int     `json:"ops"`    // operations completed
	Errors     int     `json:"errors"` // operations that failed
	ElapsedS   float64 `json:"elapsed_s"`
	Throughput float64 `json:"ops_per_s,omitempty"`
	Bytes      int64   `json:"bytes,omitempty"` // response bytes of one operation (or all, for multiget)
	// Got and Want are the result count the server returned and the count
	// the bench knows is right (members, changes, matches); Correct is
	// their equality. Both are zero when the scenario counts nothing.
	Got     int   `json:"got,omitempty"`
	Want    int   `json:"want,omitempty"`
	Correct *bool `json:"correct,omitempty"`
	Partial bool  `json:"partial,omitempty"` // stopped by the time budget
	// Timeout marks a scenario that measures only once its work is done
	// (FreshFootprint) and whose work its time budget stopped: no figure.
	Timeout bool  `json:"timeout,omitempty"`
	RSSKB   int64 `json:"rss_kb,omitempty"`
	// HWMKB is the server's peak resident set (VmHWM) when RSSKB was read.
	HWMKB int64 `json:"hwm_kb,omitempty"`
	// DiskBytes is the server's data directory's size on disk.
	DiskBytes int64  `json:"disk_bytes,omitempty"`
	Note      string `json:"note,omitempty"`
	// FirstError is the first failure seen, to make errors diagnosable.
	FirstError string `json:"first_error,omitempty"`
}

// check fills Got, Want and Correct.
func (r *Result) check(got, want int) {
	r.Got, r.Want = got, want
	ok := got == want
	r.Correct = &ok
}

// WriteJSON writes r as one JSON line.
func (r Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// String is the human one-line summary.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %-17s N=%-6d C=%-3d ops=%-6d err=%-3d", r.Server, r.Scenario, r.N, r.C, r.Ops, r.Errors)
	if r.Throughput > 0 {
		fmt.Fprintf(&b, " %8.1f ops/s", r.Throughput)
	}
	if r.Count > 0 {
		fmt.Fprintf(&b, " p50=%.1fms p99=%.1fms max=%.1fms", r.P50, r.P99, r.Max)
	}
	if r.Bytes > 0 {
		fmt.Fprintf(&b, " bytes=%d", r.Bytes)
	}
	if r.Correct != nil {
		fmt.Fprintf(&b, " got=%d want=%d", r.Got, r.Want)
		if !*r.Correct {
			b.WriteString(" WRONG")
		}
	}
	if r.Partial {
		b.WriteString(" (partial: time budget)")
	}
	if r.RSSKB > 0 {
		fmt.Fprintf(&b, " rss=%dMB", r.RSSKB/1024)
	}
	if r.HWMKB > 0 {
		fmt.Fprintf(&b, " peak=%dMB", r.HWMKB/1024)
	}
	if r.DiskBytes > 0 {
		fmt.Fprintf(&b, " disk=%.1fMB", float64(r.DiskBytes)/(1<<20))
	}
	if r.Note != "" {
		b.WriteString(" — " + r.Note)
	}
	return b.String()
}

// ReadResults parses JSON lines written by WriteJSON.
func ReadResults(r io.Reader) ([]Result, error) {
	var out []Result
	dec := json.NewDecoder(r)
	for dec.More() {
		var res Result
		if err := dec.Decode(&res); err != nil {
			return out, fmt.Errorf("decode result %d: %w", len(out)+1, err)
		}
		out = append(out, res)
	}
	return out, nil
}
