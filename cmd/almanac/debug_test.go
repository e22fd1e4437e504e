package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDebugListen(t *testing.T) {
	srv := startServer(t, "--debug-listen=127.0.0.1:0")
	// The hook bound a random port; find it from the log line.
	logs := srv.Logs.String()
	i := strings.Index(logs, "http://127.0.0.1:")
	if i < 0 || !strings.Contains(logs[i:], "/debug/pprof/") {
		t.Fatalf("no profiler URL in the logs:\n%s", logs)
	}
	url := strings.Fields(logs[i:])[0]
	url = strings.Trim(url, `"`)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("profiler index: %d\n%s", resp.StatusCode, body)
	}
}
