package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fillCal puts n objects into /alice/cal/ from 8 goroutines.
func fillCal(tb testing.TB, db *DB, n int, prefix string) {
	tb.Helper()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("%s%06d", prefix, i)
				if _, err := db.PutObject(ctx, alice, "/alice/cal/", name+".ics", event(name), PutOptions{}); err != nil {
					tb.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}

// BenchmarkRestoreCollection10k restores a 10k-object calendar after half
// of it was deleted and a tenth modified.
func BenchmarkRestoreCollection10k(b *testing.B) {
	db := MustOpen(b)
	MustCalendar(b, db)
	fillCal(b, db, 10000, "e")
	at := AsOf{Seq: db.Head()}
	for i := 0; i < 5000; i++ {
		db.DeleteObject(ctx, bob, "/alice/cal/", fmt.Sprintf("e%06d.ics", 2*i), "")
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := db.Restore(ctx, oper, RestoreRequest{Path: "/alice/cal/", At: at})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if len(res.Actions) != 5000 {
			b.Fatalf("%d actions", len(res.Actions))
		}
		for i := 0; i < 5000; i++ {
			db.DeleteObject(ctx, bob, "/alice/cal/", fmt.Sprintf("e%06d.ics", 2*i), "")
		}
		b.StartTimer()
	}
}

// BenchmarkHistoryUser100k lists the whole history of a home with 100k
// events.
func BenchmarkHistoryUser100k(b *testing.B) {
	db := MustOpen(b)
	MustCalendar(b, db)
	fillCal(b, db, 100000-2, "h")
	v, _ := db.View()
	defer v.Close()
	b.ResetTimer()
	for b.Loop() {
		evs, err := v.HistoryUnder("/alice/", time.Time{}, time.Time{})
		if err != nil || len(evs) != 100000 {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
}
