package main

import (
	"bufio"
	"bytes"
	"flag"
	"strconv"
	"strings"
)

// addCodePagesFlag registers --release-code-pages (see releaseCodePages).
func addCodePagesFlag(fs *flag.FlagSet, dst *bool) {
	fs.BoolVar(dst, "release-code-pages", true, "once the server listens, drop the program's code pages from memory and the page cache and read them back a page at a time, so that only code that runs stays resident, and unmap them again when the server turns quiet after a burst (Linux; README: Memory and disk)")
}

// codeSpan is one mapping of the program's file, [Start, End).
type codeSpan struct{ Start, End uint64 }

// codeMappings returns the mappings of exe in smaps (the text of
// /proc/self/smaps) that are safe to drop: not writable and holding no
// anonymous pages. The one read-only mapping that does hold some is
// GNU_RELRO (the dynamic linker's relocated GOT, made read-only after it
// wrote it): dropping its pages would bring back the file's unrelocated
// bytes, so it is left alone, as is everything writable.
func codeMappings(smaps []byte, exe string) []codeSpan {
	var out []codeSpan
	var cur codeSpan
	ok := false
	flush := func() {
		if ok {
			out = append(out, cur)
		}
		ok = false
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if strings.HasSuffix(f[0], ":") { // "Anonymous:   4 kB"
			if ok && f[0] == "Anonymous:" && (len(f) < 2 || f[1] != "0") {
				ok = false
			}
			continue
		}
		flush()
		// "start-end perms offset dev inode path", the path may hold spaces.
		if len(f) < 6 || strings.Join(f[5:], " ") != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		cur, ok = codeSpan{start, end}, true
	}
	flush()
	return out
}
