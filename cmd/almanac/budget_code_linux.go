//go:build linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// releaseCodePages drops the program's code and read-only data (its text,
// rodata and function tables, ~40 MB of the 58 MB binary) from this
// process's memory and from the page cache, and marks them MADV_RANDOM, so
// that a page comes back only when it runs again, 4 KiB at a time, without
// read-ahead. It returns the bytes of the mappings it released.
//
// Why (README, "Memory and disk"): Linux 6.18 keeps an ext4 file in the
// page cache as large folios (written by the linker or an installer, or
// read ahead at exec) and maps a whole folio, up to 2 MiB, on one fault.
// On the development machine 35–41 MiB of the binary were resident right
// after start, though the server runs a small part of it; after this, 20–28
// MiB after a 1,000-event load. The startup code (flag parsing, Pebble's
// open, the embedded NATS server's start) runs once and is not read again.
// The folios mapped by a running thread at the moment of the call, or by
// another process running the same binary, stay in the page cache; nothing
// else changes for other processes. The cost is one read of each page the
// server uses again, from the disk when the page is gone from the cache.
//
// Only mappings without anonymous pages are dropped (codeMappings): those
// hold exactly the file's bytes, so MADV_DONTNEED loses nothing. This is
// hand-written because no library does it; golang.org/x/sys gives the
// system calls.
func releaseCodePages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("release code pages: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("release code pages: %w", err)
	}
	var n int64
	for _, s := range codeMappings(smaps, exe) {
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
			// unix.Madvise takes a []byte, which would need an unsafe
			// slice over the program's own text.
			if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(s.Start), uintptr(s.End-s.Start), advice); e != 0 {
				return n, fmt.Errorf("release code pages: madvise %#x-%#x: %w", s.Start, s.End, e)
			}
		}
		n += int64(s.End - s.Start)
	}
	fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return n, fmt.Errorf("release code pages: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return n, fmt.Errorf("release code pages: fadvise: %w", err)
	}
	return n, nil
}
