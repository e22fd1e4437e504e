package query

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func cards(tb testing.TB) map[string]*Card {
	tb.Helper()
	files, _ := filepath.Glob("testdata/rfc6352/*.vcf")
	out := map[string]*Card{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := ParseCard(b)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".vcf")] = c
	}
	if len(out) != 3 {
		tb.Fatalf("want 3 cards, have %d", len(out))
	}
	return out
}

const aq = `<?xml version="1.0" encoding="utf-8" ?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">`

// TestAddressbookQuery runs RFC 6352 §8.6.4–8.6.6 style queries.
func TestAddressbookQuery(t *testing.T) {
	cs := cards(t)
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"8.6.4 nickname equals", aq + `<C:filter><C:prop-filter name="NICKNAME">
			<C:text-match collation="i;unicode-casemap" match-type="equals">me</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`,
			[]string{"cyrus"}},
		{"8.6.5 anyof FN or EMAIL", aq + `<C:filter test="anyof">
			<C:prop-filter name="FN"><C:text-match collation="i;unicode-casemap" match-type="contains">daboo</C:text-match></C:prop-filter>
			<C:prop-filter name="EMAIL"><C:text-match collation="i;unicode-casemap" match-type="contains">daboo</C:text-match></C:prop-filter>
			</C:filter></C:addressbook-query>`,
			[]string{"cyrus", "eric"}},
		{"8.6.6 allof FN and EMAIL", aq + `<C:filter test="allof">
			<C:prop-filter name="FN"><C:text-match match-type="contains">daboo</C:text-match></C:prop-filter>
			<C:prop-filter name="EMAIL"><C:text-match match-type="contains">daboo</C:text-match></C:prop-filter>
			</C:filter></C:addressbook-query>`,
			[]string{"cyrus"}},
		{"unicode casemap folds accents' case", aq + `<C:filter><C:prop-filter name="FN">
			<C:text-match match-type="starts-with">ÉMILE</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`,
			[]string{"emile"}},
		{"octet is case-sensitive", aq + `<C:filter><C:prop-filter name="FN">
			<C:text-match collation="i;octet" match-type="ends-with">daboo</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`,
			nil},
		{"negate and is-not-defined", aq + `<C:filter test="allof">
			<C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>
			<C:prop-filter name="FN"><C:text-match negate-condition="yes">Zola</C:text-match></C:prop-filter>
			</C:filter></C:addressbook-query>`,
			[]string{"eric"}},
		{"param-filter on TYPE", aq + `<C:filter><C:prop-filter name="EMAIL" test="allof">
			<C:param-filter name="TYPE"><C:text-match match-type="equals">pref</C:text-match></C:param-filter>
			<C:text-match>example.com</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`,
			[]string{"cyrus"}},
		{"no prop-filter matches all", aq + `<C:filter/></C:addressbook-query>`,
			[]string{"cyrus", "emile", "eric"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseAddressbookQuery([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for name, c := range cs {
				if q.Match(c) {
					got = append(got, name)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddressbookQueryErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, cond string
		status           int
	}{
		{"ErrCollation", aq + `<C:filter><C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`, "supported-collation", 403},
		{"ErrMatchType", aq + `<C:filter><C:prop-filter name="FN"><C:text-match match-type="regex">x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`, "supported-filter", 400},
		{"ErrNoFilter", aq + `</C:addressbook-query>`, "valid-filter", 403},
		{"ErrVersion", aq + `<D:prop><C:address-data version="2.1"/></D:prop><C:filter/></C:addressbook-query>`, "supported-address-data", 403},
		{"ErrMalformed", aq + `<C:filter>`, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAddressbookQuery([]byte(tc.body))
			var qe *Error
			if !errors.As(err, &qe) || qe.Cond != tc.cond || qe.Status != tc.status {
				t.Fatalf("err = %v, want %d %s", err, tc.status, tc.cond)
			}
		})
	}
}

func TestAddressDataRender(t *testing.T) {
	cs := cards(t)
	parse := func(t *testing.T, prop string) *AddressData {
		q, err := ParseAddressbookQuery([]byte(aq + `<D:prop>` + prop + `</D:prop><C:filter/></C:addressbook-query>`))
		if err != nil {
			t.Fatal(err)
		}
		return q.Data
	}
	t.Run("8.6.4 partial", func(t *testing.T) {
		got := string(parse(t, `<C:address-data><C:prop name="UID"/><C:prop name="NICKNAME"/><C:prop name="EMAIL"/><C:prop name="FN"/></C:address-data>`).Render(cs["cyrus"]))
		want := crlf(`
BEGIN:VCARD
VERSION:3.0
NICKNAME:me
UID:34222-232@example.com
FN:Cyrus Daboo
EMAIL;TYPE=INTERNET,pref:daboo@example.com
END:VCARD
`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("3.0 to 4.0", func(t *testing.T) {
		got := string(parse(t, `<C:address-data content-type="text/vcard" version="4.0"/>`).Render(cs["cyrus"]))
		want := crlf(`
BEGIN:VCARD
VERSION:4.0
NICKNAME:me
UID:34222-232@example.com
FN:Cyrus Daboo
N:Daboo;Cyrus;;;
EMAIL;TYPE=INTERNET;PREF=1:daboo@example.com
TEL;TYPE=WORK:+1-555-0100
END:VCARD
`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("4.0 to 3.0", func(t *testing.T) {
		got := string(parse(t, `<C:address-data version="3.0"/>`).Render(cs["emile"]))
		want := crlf(`
BEGIN:VCARD
VERSION:3.0
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1
FN:Émile Zola
N:Zola;Émile;;;
EMAIL;TYPE=home,pref:emile@example.org
ADR;TYPE=home:;;21 bis rue de Bruxelles;Paris;;75009;France
LABEL;TYPE=home:21 bis rue de Bruxelles\nParis
GEO:48.88;2.33
PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=
END:VCARD
`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("round trip 4.0 to 3.0 to 4.0", func(t *testing.T) {
		v3, err := ParseCard(parse(t, `<C:address-data version="3.0"/>`).Render(cs["emile"]))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.ReplaceAll(string(parse(t, `<C:address-data version="4.0"/>`).Render(v3)), "\r\n ", "")
		for _, line := range []string{
			"EMAIL;TYPE=home;PREF=1:emile@example.org",
			`ADR;TYPE=home;LABEL=21 bis rue de Bruxelles^nParis:;;21 bis rue de Bruxelles;Paris;;75009;France`,
			"GEO:geo:48.88,2.33",
			"PHOTO:data:image/png;base64,iVBORw0KGgo=",
		} {
			if !strings.Contains(got, line+"\r\n") {
				t.Errorf("missing %q in\n%s", line, got)
			}
		}
	})
	t.Run("same version is byte for byte", func(t *testing.T) {
		if got := parse(t, `<C:address-data version="3.0"/>`).Render(cs["eric"]); string(got) != string(cs["eric"].Body) {
			t.Error("body changed")
		}
	})
}
