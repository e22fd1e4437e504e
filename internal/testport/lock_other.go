//go:build !unix

package testport

import "os"

// tryLock has no lock to take without flock: the port is only outside
// the ephemeral range.
func tryLock(*os.File) bool { return true }
