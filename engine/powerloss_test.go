package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/almanac/almanac/internal/testscale"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPowerLoss simulates losing power, which SIGKILL does not: the kernel
// keeps a killed process's unsynced writes in its page cache, a power cut
// drops them. Writers run on Pebble's crashable in-memory filesystem; at a
// random moment the test takes a crash clone, which holds everything
// synced and a random part of what was not. Opening the clone must show
// every write acknowledged before the clone (acknowledgements follow the
// fsync), and Verify must find the projections equal to a replay of the
// log. It takes 6 clones times ALMANAC_TEST_SCALE.
func TestPowerLoss(t *testing.T) {
	t.Parallel()
	rounds := testscale.N(t, 6)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := range rounds {
		powerLossRound(t, round, rng)
		if t.Failed() {
			return
		}
	}
}

func powerLossRound(t *testing.T, round int, rng *rand.Rand) {
	fs := vfs.NewCrashableMem()
	db, err := Open("db", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	c := MustCalendar(t, db)

	var (
		mu    sync.Mutex
		acked = map[string]string{} // name -> etag; "" = deleted
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("g%d-%d.ics", g, i)
				r, err := db.PutObject(ctx, alice, c.Path, name, event(name), PutOptions{IfNoneMatch: true})
				if err != nil {
					t.Errorf("put %s: %v", name, err)
					return
				}
				mu.Lock()
				acked[name] = r.ETag
				mu.Unlock()
				if i%4 == 3 {
					if err := db.DeleteObject(ctx, alice, c.Path, name, r.ETag); err != nil {
						t.Errorf("delete %s: %v", name, err)
						return
					}
					mu.Lock()
					acked[name] = ""
					mu.Unlock()
				}
			}
		}()
	}

	// Let some writes through, then cut the power: snapshot what was
	// acknowledged, and only then clone, so every write in the snapshot
	// was fsynced before the clone.
	target := 20 + rng.IntN(200)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= target {
			break
		}
		db.Wait(ctx, db.Head()) //nolint:errcheck // only paces the loop
	}
	mu.Lock()
	want := make(map[string]string, len(acked))
	for k, v := range acked {
		want[k] = v
	}
	mu.Unlock()
	clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng})
	close(stop)
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	after, err := Open("db", &Options{FS: clone})
	if err != nil {
		t.Fatalf("round %d: open after power loss: %v", round, err)
	}
	defer after.Close()
	for name, etag := range want {
		o, err := after.Object(c.Path, name, false)
		switch {
		case etag == "" && !errors.Is(err, ErrNotFound):
			t.Errorf("round %d: acknowledged delete of %s undone (%v)", round, name, err)
		case etag != "" && err != nil:
			// A put later deleted may be acknowledged as deleted after
			// the snapshot; the snapshot's put must still be there or
			// its delete durable — both leave no live etag to compare.
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("round %d: %s: %v", round, name, err)
			} else if !deletedLater(name) {
				t.Errorf("round %d: acknowledged put of %s lost", round, name)
			}
		case etag != "" && o.ETag != etag:
			t.Errorf("round %d: %s has etag %s, acknowledged %s", round, name, o.ETag, etag)
		}
	}
	if err := after.Verify(ctx); err != nil {
		t.Errorf("round %d: %v", round, err)
	}
	t.Logf("round %d: %d acknowledged writes survived", round, len(want))
}

// deletedLater reports whether the writers of powerLossRound delete name
// after putting it (every fourth object), so its acknowledged put may be
// followed by a durable delete the snapshot did not see.
func deletedLater(name string) bool {
	var g, i int
	_, err := fmt.Sscanf(name, "g%d-%d.ics", &g, &i)
	return err == nil && i%4 == 3
}
