package itip

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the package pure: iTIP logic on go-ical values, with
// engine/recur for instances and nothing of HTTP, XML, storage, the engine
// or delivery (dav/sched imports it, never the other way).
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/emersion/go-ical":             true,
		"github.com/almanac/almanac/engine/recur": true,
	}
	for _, imp := range strings.Fields(string(out)) {
		if !allowed[imp] && strings.Contains(imp, ".") {
			t.Errorf("itip imports %s: only go-ical, engine/recur and the standard library", imp)
		}
		if imp == "net/http" || imp == "encoding/xml" {
			t.Errorf("itip imports %s: no HTTP or XML here", imp)
		}
	}
}
