package share

import (
	"errors"
	"reflect"
	"testing"

	"github.com/almanac/almanac/dav/internal/davxml"
)

func parse(t testing.TB, body string) ([]Sharee, error) {
	t.Helper()
	root, err := davxml.Root([]byte(body))
	if err != nil {
		return nil, err
	}
	return ParseRequest(root, []byte(body))
}

// TestParseRequest reads the draft's example (draft-pot-webdav-resource-
// sharing §5.3.2.1), the CS:share body Apple's Calendar sends, and refuses
// what is not a valid request.
func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []Sharee
		err  bool
	}{
		{name: "OK/draft", body: `<?xml version="1.0" encoding="utf-8" ?>
<D:share-resource xmlns:D="DAV:">
  <D:sharee>
    <D:href>mailto:eric@example.com</D:href>
    <D:prop><D:displayname>Eric York</D:displayname></D:prop>
    <D:comment>Shared workspace</D:comment>
    <D:share-access><D:read-write /></D:share-access>
  </D:sharee>
  <D:sharee>
    <D:href>mailto:bernard@example.net</D:href>
    <D:share-access><D:read /></D:share-access>
  </D:sharee>
  <D:sharee>
    <D:href>mailto:wilfredo@example.com</D:href>
    <D:share-access><D:no-access /></D:share-access>
  </D:sharee>
</D:share-resource>`, want: []Sharee{
			{Href: "mailto:eric@example.com", Access: AccessReadWrite, CommonName: "Eric York", Comment: "Shared workspace"},
			{Href: "mailto:bernard@example.net", Access: AccessRead},
			{Href: "mailto:wilfredo@example.com", Access: AccessNone},
		}},
		{name: "OK/calendarserver", body: `<?xml version="1.0" encoding="UTF-8"?>
<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/">
  <B:set>
    <A:href>mailto:bob@localhost</A:href>
    <B:common-name>Bob</B:common-name>
    <B:summary>Family</B:summary>
    <B:read-write/>
  </B:set>
  <B:set>
    <A:href>/dav/principals/carol/</A:href>
    <B:read/>
  </B:set>
  <B:remove>
    <A:href>mailto:dave@localhost</A:href>
  </B:remove>
</B:share>`, want: []Sharee{
			{Href: "mailto:bob@localhost", Access: AccessReadWrite, CommonName: "Bob", Comment: "Family"},
			{Href: "/dav/principals/carol/", Access: AccessRead},
			{Href: "mailto:dave@localhost", Access: AccessNone},
		}},
		{name: "ErrNoAccess", body: `<D:share-resource xmlns:D="DAV:"><D:sharee><D:href>/x/</D:href></D:sharee></D:share-resource>`, err: true},
		{name: "ErrTwoAccesses", body: `<D:share-resource xmlns:D="DAV:"><D:sharee><D:href>/x/</D:href><D:share-access><D:read/><D:read-write/></D:share-access></D:sharee></D:share-resource>`, err: true},
		{name: "ErrNoHref", body: `<D:share-resource xmlns:D="DAV:"><D:sharee><D:share-access><D:read/></D:share-access></D:sharee></D:share-resource>`, err: true},
		{name: "ErrEmpty", body: `<D:share-resource xmlns:D="DAV:"/>`, err: true},
		{name: "ErrTwice", body: `<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/"><B:set><A:href>/x/</A:href><B:read/></B:set><B:remove><A:href>/X/</A:href></B:remove></B:share>`, err: true},
		{name: "ErrSetWithoutAccess", body: `<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/"><B:set><A:href>/x/</A:href></B:set></B:share>`, err: true},
		{name: "ErrOtherRoot", body: `<D:propfind xmlns:D="DAV:"/>`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(t, tc.body)
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestParseRequestLimit refuses more than MaxSharees sharees.
func TestParseRequestLimit(t *testing.T) {
	body := `<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/">`
	for i := range MaxSharees + 1 {
		body += `<B:set><A:href>/dav/principals/u` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `/</A:href><B:read/></B:set>`
	}
	body += `</B:share>`
	if _, err := parse(t, body); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

// TestParseReply reads Apple's CS:invite-reply.
func TestParseReply(t *testing.T) {
	got, err := ParseReply([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<B:invite-reply xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/">
  <A:href>mailto:bob@localhost</A:href>
  <B:invite-accepted/>
  <B:hosturl><A:href>/dav/home/alice/calendar/</A:href></B:hosturl>
  <B:in-reply-to>8e2d3b5c</B:in-reply-to>
  <B:summary>Alice's calendar</B:summary>
</B:invite-reply>`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Reply{Accept: true, HostURL: "/dav/home/alice/calendar/", InReplyTo: "8e2d3b5c", Summary: "Alice's calendar"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		`<B:invite-reply xmlns:B="http://calendarserver.org/ns/"><B:invite-accepted/></B:invite-reply>`,
		`<B:invite-reply xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/"><B:invite-accepted/><B:invite-declined/><B:in-reply-to>x</B:in-reply-to></B:invite-reply>`,
	} {
		if _, err := ParseReply([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseReply(%s) = %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzParse feeds both parsers the same bytes: neither may panic, and
// what ParseRequest accepts keeps within its limits.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<D:share-resource xmlns:D="DAV:"><D:sharee><D:href>/x/</D:href><D:share-access><D:read/></D:share-access></D:sharee></D:share-resource>`))
	f.Add([]byte(`<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/"><B:set><A:href>/x/</A:href><B:read/></B:set><B:remove><A:href>/y/</A:href></B:remove></B:share>`))
	f.Add([]byte(`<B:invite-reply xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/"><B:invite-accepted/><B:hosturl><A:href>/a/</A:href></B:hosturl></B:invite-reply>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		root, err := davxml.Root(body)
		if err != nil {
			return
		}
		ParseReply(body)
		got, err := ParseRequest(root, body)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > MaxSharees {
			t.Fatalf("%d sharees accepted", len(got))
		}
		for _, s := range got {
			if s.Href == "" || len(s.Href) > maxText || s.Access < AccessNone || s.Access > AccessReadWrite {
				t.Fatalf("sharee %+v accepted", s)
			}
		}
	})
}
