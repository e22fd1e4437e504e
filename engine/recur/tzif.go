package recur

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"time"
)

// transition is one change of UTC offset: from At on, local time is UTC
// plus Offset seconds.
type transition struct {
	At     int64 // Unix seconds
	Offset int32 // seconds east of UTC
	DST    bool
	Name   string
}

// locationFromTransitions builds a *time.Location from offset transitions
// by encoding them as TZif version 2 data (RFC 8536) and loading that with
// time.LoadLocationFromTZData. Before the first transition the first
// standard-time offset applies; after the last one, the last offset.
func locationFromTransitions(name string, ts []transition) (*time.Location, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("recur: zone %q has no observances", name)
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].At < ts[j].At })
	type ttinfo struct {
		off  int32
		dst  bool
		name string
	}
	var types []ttinfo
	index := map[ttinfo]int{}
	var chars bytes.Buffer
	charIdx := map[string]int{}
	typeOf := func(t transition) int {
		k := ttinfo{t.Offset, t.DST, t.Name}
		if i, ok := index[k]; ok {
			return i
		}
		if _, ok := charIdx[t.Name]; !ok {
			charIdx[t.Name] = chars.Len()
			chars.WriteString(t.Name)
			chars.WriteByte(0)
		}
		index[k] = len(types)
		types = append(types, k)
		return index[k]
	}
	// The first standard observance becomes type 0, which Go uses for
	// instants before the first transition.
	for _, t := range ts {
		if !t.DST {
			typeOf(t)
			break
		}
	}
	idx := make([]byte, len(ts))
	for i, t := range ts {
		idx[i] = byte(typeOf(t))
	}
	if len(types) > 255 {
		return nil, fmt.Errorf("recur: zone %q has too many distinct offsets", name)
	}
	var b bytes.Buffer
	header := func(timecnt, typecnt, charcnt int) {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		for _, n := range []int{0, 0, 0, timecnt, typecnt, charcnt} {
			_ = binary.Write(&b, binary.BigEndian, uint32(n))
		}
	}
	header(0, 0, 0) // empty version 1 block
	header(len(ts), len(types), chars.Len())
	for _, t := range ts {
		_ = binary.Write(&b, binary.BigEndian, t.At)
	}
	b.Write(idx)
	for _, t := range types {
		_ = binary.Write(&b, binary.BigEndian, t.off)
		dst := byte(0)
		if t.dst {
			dst = 1
		}
		b.WriteByte(dst)
		b.WriteByte(byte(charIdx[t.name]))
	}
	b.Write(chars.Bytes())
	b.WriteString("\n\n")
	loc, err := time.LoadLocationFromTZData(name, b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("recur: zone %q: %w", name, err)
	}
	return loc, nil
}
