package davxml

import "testing"

// TestContainsFold: the declarations are found in any case, anywhere,
// and only as a whole.
func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`<!DOCTYPE x>`, true},
		{`<a/><!doctype x>`, true},
		{`<a><<!DocType`, true},
		{`<a>DOCTYPE</a>`, false},
		{`<!DOCTYP`, false},
		{`<a/><`, false},
		{``, false},
	} {
		if got := containsFold([]byte(c.body), "<!DOCTYPE"); got != c.want {
			t.Errorf("containsFold(%q) = %v, want %v", c.body, got, c.want)
		}
	}
}
