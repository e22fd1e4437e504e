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

// TestPieces: a family whose sorted spans follow each other in key order
// is cut into up to one piece a worker, which together hold its refs in
// order; spans that overlap, or share a key at their boundary, stay one
// piece that is merged.
func TestPieces(t *testing.T) {
	t.Parallel()
	span := func(keys ...string) []ref {
		out := make([]ref, len(keys))
		for i, k := range keys {
			out[i] = ref{key: k, at: uint64(i)}
		}
		return out
	}
	ordered := [][]ref{span("a", "b"), span("c"), nil, span("d", "d", "e"), span("f")}
	ps := pieces('x', ordered, 400, 2)
	if len(ps) != 2 {
		t.Fatalf("%d pieces of 4 ordered spans for 2 workers, want 2", len(ps))
	}
	var got []ref
	for i, p := range ps {
		if !p.ordered || p.fam != 'x' || p.idx != i || p.bytes != 200 {
			t.Errorf("piece %d: %+v", i, p)
		}
		if err := emitInOrder(p.spans, func(r ref) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if want := slices.Concat(ordered...); !slices.Equal(got, want) {
		t.Errorf("pieces hold %v, want %v", got, want)
	}
	if ps := pieces('x', ordered, 400, 8); len(ps) != 4 {
		t.Errorf("%d pieces of 4 ordered spans for 8 workers, want 4", len(ps))
	}
	for _, spans := range [][][]ref{{span("a", "c"), span("b")}, {span("a", "b"), span("b", "c")}} {
		ps := pieces('x', spans, 400, 2)
		if len(ps) != 1 || ps[0].ordered || len(ps[0].spans) != 2 || ps[0].bytes != 400 {
			t.Errorf("spans %v: pieces %+v, want one merged piece", spans, ps)
		}
	}
}
