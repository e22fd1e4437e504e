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
// All of them are gaps of package dav (reported to its owner):
//   - copymove/4.copy_overwrite, copymove/9.move: COPY/MOVE of a resource
//     over an existing collection with Overwrite: T gets 409; RFC 4918 §9.8.4
//     and §9.9.3 want the collection deleted and replaced.
//   - copymove/7.copy_coll, copymove/10.move_coll: COPY of a collection
//     (Depth: infinity) gets 403; only object COPY/MOVE is implemented.
//   - copymove/8.copy_shallow: follows from 7 (ccsrc/ was left behind, so
//     its MKCOL gets 405).
//   - props/3.propfind_invalid2: a body binding a prefix to the empty
//     namespace (xmlns:foo="") is accepted with 207; RFC 4918 wants 400
//     (encoding/xml does not reject it).
//   - props/6.propset, props/26.propmanyns: PROPPATCH of dead properties on
//     a non-collection resource gets 403; the engine keeps properties on
//     collections only. props/27.propget follows from 26.
var litmusKnownFailures = []string{
	"copymove/4.copy_overwrite",
	"copymove/7.copy_coll",
	"copymove/8.copy_shallow",
	"copymove/9.move",
	"copymove/10.move_coll",
	"props/3.propfind_invalid2",
	"props/6.propset",
	"props/26.propmanyns",
	"props/27.propget",
}

// TestInteropLitmus runs the litmus WebDAV suites basic, copymove, props
// and http against alice's home.
func TestInteropLitmus(t *testing.T) {
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
