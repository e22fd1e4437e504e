package testport

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// TestListensOn tells this process's listener from one another process
// holds, and from a port nobody listens on.
func TestListensOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if ok, err := ListensOn(os.Getpid(), port); err != nil || !ok {
		t.Fatalf("this process on its own port %d: %v, %v", port, ok, err)
	}
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if ok, err := ListensOn(other.Process.Pid, port); err != nil || ok {
		t.Fatalf("another process on this one's port %d: %v, %v", port, ok, err)
	}
	free := Ports(t, 1)[0]
	if ok, err := ListensOn(os.Getpid(), free); err != nil || ok {
		t.Fatalf("a port nobody listens on (%d): %v, %v", free, ok, err)
	}
}
