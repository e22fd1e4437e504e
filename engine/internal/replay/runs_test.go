package replay

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// TestMergeSpans: merging sorted spans yields every ref once, in the order
// a sort of all of them gives, the writes of one key in the order made.
func TestMergeSpans(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 50; round++ {
		var all []ref
		spans := make([][]ref, rng.Intn(6))
		for i := range spans {
			for j := rng.Intn(40); j > 0; j-- {
				r := ref{key: fmt.Sprint(rng.Intn(30)), at: uint64(len(all))}
				spans[i] = append(spans[i], r)
				all = append(all, r)
			}
			slices.SortFunc(spans[i], cmpRefs)
		}
		slices.SortFunc(all, cmpRefs)
		var got []ref
		if err := mergeSpans(spans, func(r ref) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, all) {
			t.Fatalf("round %d: merged %v, want %v", round, got, all)
		}
	}
}
