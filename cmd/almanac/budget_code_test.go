package main

import (
	"reflect"
	"testing"
)

// TestCodeMappings: of /proc/self/smaps, only the program's own read-only
// mappings without anonymous pages are dropped: its text and rodata, not
// the GNU_RELRO page the dynamic linker wrote (Anonymous 4 kB), not its
// data, not another file's or an anonymous mapping; a path with spaces and
// one marked "(deleted)" after an upgrade in place are matched whole.
func TestCodeMappings(t *testing.T) {
	const smaps = `00400000-00402000 r--p 00000000 fe:00 10478181                           /opt/my dir/almanac (deleted)
Size:                  8 kB
Rss:                   8 kB
Anonymous:             0 kB
00402000-0171f000 r-xp 00002000 fe:00 10478181                           /opt/my dir/almanac (deleted)
Size:              19572 kB
Rss:               18872 kB
Anonymous:             0 kB
FilePmdMapped:     16384 kB
0171f000-02b0d000 r--p 0131f000 fe:00 10478181                           /opt/my dir/almanac (deleted)
Rss:               20356 kB
Anonymous:             0 kB
02b0d000-02b0e000 r--p 0270c000 fe:00 10478181                           /opt/my dir/almanac (deleted)
Rss:                   4 kB
Anonymous:             4 kB
02b0e000-02bb6000 rw-p 0270d000 fe:00 10478181                           /opt/my dir/almanac (deleted)
Anonymous:           152 kB
7f0000000000-7f0000010000 r-xp 00000000 fe:00 42                         /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000020000-7f0000030000 r--p 00000000 00:00 0 
Anonymous:             0 kB
`
	got := codeMappings([]byte(smaps), "/opt/my dir/almanac (deleted)")
	want := []codeSpan{{0x400000, 0x402000}, {0x402000, 0x171f000}, {0x171f000, 0x2b0d000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("codeMappings = %x, want %x", got, want)
	}
	if got := codeMappings([]byte(smaps), "/opt/my dir/other"); len(got) != 0 {
		t.Errorf("another program's path: %x, want none", got)
	}
}
