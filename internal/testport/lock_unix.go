//go:build unix

package testport

import (
	"os"
	"syscall"
)

// tryLock takes f's exclusive lock without waiting; the kernel drops it
// when f is closed or the process ends, however it ends.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
