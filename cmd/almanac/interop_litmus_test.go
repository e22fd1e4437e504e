package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// litmusKnownFailures lists the litmus tests that fail for a documented
// reason, as "suite/number.name". The test fails if any other test fails,
// and also if one of these starts passing (then delete it from the list).
//
// None fail today: basic, copymove, props and http pass completely. A
// failure that has to be accepted goes here with its reason.
var litmusKnownFailures = []string{}

// TestInteropLitmus runs the litmus WebDAV suites basic, copymove, props
// and http against alice's home.
func TestInteropLitmus(t *testing.T) {
	t.Parallel()
	bin := requireBinary(t, "litmus", "litmus")
	srv := startServer(t)
	out := runLitmus(t, srv, bin)
	failed := litmusFailures(out)
	if !slices.Equal(failed, litmusKnownFailures) {
		t.Errorf("litmus failures %q, want exactly the known %q\noutput:\n%s", failed, litmusKnownFailures, out)
	}
	if got := len(regexp.MustCompile(`(?m)^<- summary for `+"`"+`(basic|copymove|props|http)'`).FindAllString(out, -1)); got != 4 {
		t.Errorf("litmus ran %d suites, want 4:\n%s", got, out)
	}
}

// runLitmus runs the suites and returns the output; litmus exits non-zero
// when a test fails, which the caller judges against the known list.
func runLitmus(t *testing.T, srv *testServer, bin string) string {
	t.Helper()
	cmd := []string{bin, "--keep-going", srv.BaseURL + "/dav/home/alice/", "alice", testPassword}
	return runClientAllowFail(t, []string{"TESTS=basic copymove props http"}, cmd[0], cmd[1:]...)
}

var (
	litmusSuite = regexp.MustCompile("^-> running `([a-z]+)':")
	// Without a terminal litmus prints each name twice on the result line:
	// " 4. copy_overwrite........  4. copy_overwrite........ FAIL (...)".
	litmusFail = regexp.MustCompile(`(\d+)\. (\w+)\.+ FAIL\b`)
)

// litmusFailures returns "suite/number.name" of every failed test.
func litmusFailures(out string) []string {
	var suite string
	failed := []string{}
	for _, line := range strings.Split(out, "\n") {
		if m := litmusSuite.FindStringSubmatch(line); m != nil {
			suite = m[1]
		}
		if m := litmusFail.FindStringSubmatch(line); m != nil {
			failed = append(failed, suite+"/"+m[1]+"."+m[2])
		}
	}
	return failed
}

func TestLitmusFailuresParse(t *testing.T) {
	out := "-> running `copymove':\n" +
		" 3. copy_simple...........  3. copy_simple........... pass\n" +
		" 4. copy_overwrite........  4. copy_overwrite........ FAIL (COPY overwrites collection: 409 Conflict)\n" +
		"-> running `props':\n" +
		"26. propmanyns............ 26. propmanyns............ FAIL (PROPPATCH on `/x': 403 Forbidden\n" +
		")\n"
	got, want := litmusFailures(out), []string{"copymove/4.copy_overwrite", "props/26.propmanyns"}
	if !slices.Equal(got, want) {
		t.Errorf("litmusFailures = %q, want %q", got, want)
	}
}
