//go:build linux

package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseRounds bounds how often releaseCodePages drops the mappings and
// the page cache again while running threads keep large folios mapped.
const releaseRounds = 4

// releaseCodePages drops the program's code and read-only data (its text,
// rodata and function tables, ~40 MB of the 58 MB binary) from this
// process's memory and from the page cache, and marks them MADV_RANDOM, so
// that a page comes back only when it runs again, 4 KiB at a time, without
// read-ahead. It returns the bytes of the mappings it released and how many
// of them the page cache still held after the last round.
//
// Why (README, "Memory and disk"): Linux 6.18 keeps an ext4 file in the
// page cache as large folios (written by the linker or an installer, or
// read ahead at exec) and maps a whole folio, up to 2 MiB, on one fault —
// a 2 MiB folio with one PMD, whatever MADV_RANDOM says. On the
// development machine 35–41 MiB of the binary were resident right after
// start, though the server runs a small part of it; after this, 20–28 MiB
// after a 1,000-event load. The startup code (flag parsing, Pebble's open,
// the embedded NATS server's start) runs once and is not read again. Pages
// read back after the release come one at a time (MADV_RANDOM: no
// read-ahead), so the cache no longer holds them as large folios.
//
// The page cache keeps a folio that is dirty or mapped: a binary just
// built or installed is written back first (sync_file_range: only when
// dirty does it write), and since the server's other threads keep running
// code between the unmapping and the page-cache drop, each touching a
// whole large folio again, the two are repeated (at most releaseRounds
// times) while mincore shows the drop still leaving pages behind. A folio
// mapped by another process running the same binary stays; nothing else
// changes for other processes. The cost is one read of each page the
// server uses again, from the disk when the page is gone from the cache.
//
// Only mappings without anonymous pages are dropped (codeMappings): those
// hold exactly the file's bytes, so MADV_DONTNEED loses nothing. This is
// hand-written because no library does it; golang.org/x/sys gives the
// system calls.
func releaseCodePages() (released, cached int64, err error) {
	spans, err := ownCodeMappings()
	if err != nil {
		return 0, 0, err
	}
	fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("release code pages: %w", err)
	}
	defer unix.Close(fd)
	// A dirty folio cannot leave the page cache: write the file back
	// first. An error (a file system without it) only means the drop
	// below may keep more.
	_ = unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	for _, s := range spans {
		released += int64(s.End - s.Start)
	}
	cached = released
	for range releaseRounds {
		for _, s := range spans {
			for _, advice := range []uintptr{unix.MADV_NOHUGEPAGE, unix.MADV_RANDOM, unix.MADV_DONTNEED} {
				if err := madvise(s, advice); err != nil {
					return released, cached, err
				}
			}
		}
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
			return released, cached, fmt.Errorf("release code pages: fadvise: %w", err)
		}
		left, err := cachedBytes(spans)
		if err != nil {
			return released, cached, err
		}
		progress := left < cached/2
		cached = left
		if !progress || left < released/16 {
			break // no progress worth another round, or little left
		}
	}
	return released, cached, nil
}

// ownCodeMappings returns codeMappings of this process's own program.
func ownCodeMappings() ([]codeSpan, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("release code pages: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("release code pages: %w", err)
	}
	return codeMappings(smaps, exe), nil
}

// unmapCodePages drops the pages of spans (codeMappings) from this
// process's memory and leaves them in the page cache: what the server
// runs next comes back with a minor fault, no read from the disk. The
// idle release calls it after a burst (README, "Memory and disk"): a
// 1,000-event load and a client's first sync map ~14 MiB of code and
// tables that an idle server does not run.
func unmapCodePages(spans []codeSpan) error {
	for _, s := range spans {
		if err := madvise(s, unix.MADV_DONTNEED); err != nil {
			return err
		}
	}
	return nil
}

// madvise gives advice for span s. unix.Madvise takes a []byte, which
// would need an unsafe slice over the program's own text.
func madvise(s codeSpan, advice uintptr) error {
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(s.Start), uintptr(s.End-s.Start), advice); e != 0 {
		if advice == unix.MADV_NOHUGEPAGE && e == unix.EINVAL {
			return nil // a kernel without transparent huge pages
		}
		return fmt.Errorf("release code pages: madvise %#x-%#x: %w", s.Start, s.End, e)
	}
	return nil
}

// cachedBytes counts the bytes of spans whose pages are in the page cache
// (mincore), mapped or not.
func cachedBytes(spans []codeSpan) (int64, error) {
	page := uint64(os.Getpagesize())
	var n int64
	for _, s := range spans {
		vec := make([]byte, (s.End-s.Start+page-1)/page)
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(s.Start), uintptr(s.End-s.Start), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			return n, fmt.Errorf("release code pages: mincore %#x-%#x: %w", s.Start, s.End, e)
		}
		for _, v := range vec {
			n += int64(v&1) * int64(page)
		}
	}
	return n, nil
}
