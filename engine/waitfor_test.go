package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestWaitFor: waiters for the head a run of writes ends at all return,
// whenever they start against the writes (a waiter reading the head twice
// could wait for an event after the last one, which never comes); one for
// a head already reached returns at once; one for an event that never
// comes ends with its context.
func TestWaitFor(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	const writes = 100
	last := db.Head() + writes
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, writes)
	for i := range writes {
		wg.Go(func() {
			if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("e%d.ics", i), event(fmt.Sprint("e", i)), PutOptions{}); err != nil {
				errs <- err
			}
		})
		wg.Go(func() { errs <- db.WaitFor(wctx, last) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("WaitFor(%d) at head %d: %v", last, db.Head(), err)
		}
	}
	if err := db.WaitFor(ctx, last); err != nil {
		t.Errorf("WaitFor a head already reached: %v", err)
	}
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if err := db.WaitFor(short, last+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor an event that never comes: %v, want the context's deadline", err)
	}
}
