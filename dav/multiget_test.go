package dav

import (
	"testing"

	"github.com/almanac/almanac/engine"
)

// FuzzPlainMember checks that the fast resolution of a multiget href
// gives what parsing the href gives, for a collection of the user and for
// one seen through a mount; and that it takes the hrefs clients send.
func FuzzPlainMember(f *testing.F) {
	for _, s := range []string{
		"/dav/home/alice/calendar/ev000001.ics",
		" /dav/home/alice/calendar/0c1d-ef@x.example.ics\n",
		"/dav/home/alice/bobs/b.ics",
		"/dav/home/alice/calendar/./a.ics",
		"/dav/home/alice/calendar//a.ics",
		"/dav/home/alice/calendar/..",
		"/dav/home/alice/calendar/a%20b.ics",
		"http://host/dav/home/alice/calendar/a.ics",
		"/dav/home/alice/calendar/a.ics?x",
		"/dav/home/alice/calendar/",
	} {
		f.Add(s)
	}
	own := &reportRequest{User: "alice", Coll: &engine.Collection{Path: "/dav/home/alice/calendar/"}, st: &reqState{user: "alice"}}
	mounted := &reportRequest{User: "alice", Coll: &engine.Collection{Path: "/dav/home/bob/cal/"},
		st: &reqState{user: "alice", mountFrom: "/dav/home/bob/cal/", mountTo: "/dav/home/alice/bobs/"}}
	for _, rq := range []*reportRequest{own, mounted} {
		if _, ok := plainMember(rq, rq.st.urlPath(rq.Coll.Path)+"ev000001.ics"); !ok {
			f.Fatalf("plainMember refused the plain href of %s", rq.Coll.Path)
		}
	}
	f.Fuzz(func(t *testing.T, href string) {
		for _, rq := range []*reportRequest{own, mounted} {
			name, ok := plainMember(rq, href)
			if !ok {
				continue
			}
			want, err := parsedMember(rq, href)
			if err != nil || name != want {
				t.Fatalf("%s in %s: plainMember %q, parsing %q, %v", href, rq.Coll.Path, name, want, err)
			}
		}
	})
}
