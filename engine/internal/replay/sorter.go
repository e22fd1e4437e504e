package replay

import "slices"

// sorter sorts a replay's collected writes by family, in the background:
// it gathers each family's refs and sorts every SortSpan of them into a
// span, so that a run only merges a few sorted spans per family.
type sorter struct {
	in    chan sortChunk // nil once finished
	done  chan struct{}
	acc   [256][]ref   // by family: gathered, not sorted yet
	spans [256][][]ref // by family: sorted spans
}

// sortChunk is a chunk of writes and its index among the run's chunks.
type sortChunk struct {
	idx    uint64
	writes []write
}

func newSorter() *sorter {
	s := &sorter{in: make(chan sortChunk, 16), done: make(chan struct{})}
	go s.run(s.in)
	return s
}

func (s *sorter) run(in <-chan sortChunk) {
	defer close(s.done)
	for c := range in {
		for i, w := range c.writes {
			// append grows a family's refs as they come: a span's full
			// size up front cost a replay of many small runs (the model
			// test's) more in zeroing than in sorting.
			f := w.key[0]
			s.acc[f] = append(s.acc[f], ref{key: w.key, at: c.idx<<32 | uint64(i)})
			if len(s.acc[f]) == SortSpan {
				s.seal(f)
			}
		}
	}
}

// seal sorts family f's gathered refs into a span.
func (s *sorter) seal(f byte) {
	if len(s.acc[f]) == 0 {
		return
	}
	slices.SortFunc(s.acc[f], cmpRefs)
	s.spans[f] = append(s.spans[f], s.acc[f])
	s.acc[f] = nil
}

// finish waits for the sorter to take in every chunk sent, and returns it
// stopped: spansOf then hands out each family's spans.
func (s *sorter) finish() *sorter {
	if s.in != nil {
		close(s.in)
		s.in = nil
		<-s.done
	}
	return s
}

// spansOf returns family f's sorted spans, once the sorter finished. Calls
// for different families may run at once.
func (s *sorter) spansOf(f byte) [][]ref {
	s.seal(f)
	return s.spans[f]
}

// mergeSpans calls emit with the refs of sorted spans, in order.
func mergeSpans(spans [][]ref, emit func(ref) error) error {
	h := make([][]ref, 0, len(spans))
	for _, sp := range spans {
		if len(sp) > 0 {
			h = append(h, sp)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for len(h) > 0 {
		if err := emit(h[0][0]); err != nil {
			return err
		}
		if h[0] = h[0][1:]; len(h[0]) == 0 {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		siftDown(h, 0)
	}
	return nil
}

// siftDown restores the heap order of h, spans by their first ref, below i.
func siftDown(h [][]ref, i int) {
	for {
		m := 2*i + 1
		if m >= len(h) {
			return
		}
		if r := m + 1; r < len(h) && cmpRefs(h[r][0], h[m][0]) < 0 {
			m = r
		}
		if cmpRefs(h[m][0], h[i][0]) >= 0 {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
