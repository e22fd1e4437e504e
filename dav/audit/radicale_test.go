package audit

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// TestRadicaleProps reads a .Radicale.props as Radicale 3 writes it
// (human tags for its known namespaces, Clark notation for others) and
// writes it back: every property Almanac keeps comes back under the same
// key with the same value; computed DAV properties are dropped.
func TestRadicaleProps(t *testing.T) {
	in := map[string]string{
		"tag":                                "VCALENDAR",
		"D:displayname":                      "Work",
		"C:calendar-description":             "Team & work",
		"ICAL:calendar-color":                "#ff0000ff",
		"ICAL:calendar-order":                "3",
		"C:supported-calendar-component-set": "VEVENT,VTODO",
		"C:calendar-timezone":                "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
		"{urn:example:x}note":                "kept <as is>",
		"RADICALE:hidden":                    "yes",
		"D:getetag":                          `"computed"`,
		"C:max-resource-size":                "10",
	}
	var c ImportCollection
	c.SetRadicaleProps(in)
	want := ImportCollection{
		Kind: "calendar", DisplayName: "Work", Description: "Team & work", Color: "#ff0000ff", Order: "3",
		Timezone: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", Components: []string{"VEVENT", "VTODO"},
		Dead: map[string]string{
			"{urn:example:x}note":             `<note xmlns="urn:example:x">kept &lt;as is&gt;</note>`,
			"{http://radicale.org/ns/}hidden": `<hidden xmlns="http://radicale.org/ns/">yes</hidden>`,
		},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("read (-want +got):\n%s", diff)
	}
	back := c.RadicaleProps()
	delete(in, "D:getetag")
	delete(in, "C:max-resource-size")
	if diff := cmp.Diff(in, back); diff != "" {
		t.Errorf("written back (-read +written):\n%s", diff)
	}

	t.Run("AddressBook", func(t *testing.T) {
		var c ImportCollection
		c.SetRadicaleProps(map[string]string{"tag": "VADDRESSBOOK", "CR:addressbook-description": "Friends"})
		if c.Kind != "addressbook" || c.Description != "Friends" || c.Components != nil {
			t.Fatalf("%+v", c)
		}
		if got := c.RadicaleProps(); !maps.Equal(got, map[string]string{"tag": "VADDRESSBOOK", "CR:addressbook-description": "Friends"}) {
			t.Errorf("written back: %v", got)
		}
	})
	t.Run("DefaultComponents", func(t *testing.T) {
		var c ImportCollection
		c.SetRadicaleProps(map[string]string{"tag": "VCALENDAR"})
		if diff := cmp.Diff([]string{"VEVENT", "VTODO", "VJOURNAL"}, c.Components); diff != "" {
			t.Errorf("a calendar without a component set gets Radicale's default (-want +got):\n%s", diff)
		}
	})
}

// FuzzRadicaleProps reads arbitrary .Radicale.props (a JSON object of
// strings): whatever it holds, every dead property is one well-formed
// element named as its key, holding the value as text; components are
// ones the engine stores; writing and reading again changes nothing after
// the first round (which fills in the kind and Radicale's default
// components), and loses nothing of a collection with a tag.
func FuzzRadicaleProps(f *testing.F) {
	f.Add(`{"tag":"VCALENDAR","D:displayname":"W","{urn:x}a":"<&>","C:supported-calendar-component-set":"VEVENT,vtodo,X"}`)
	f.Add(`{"tag":"VADDRESSBOOK","ICAL:calendar-color":"#fff","{}x":"1","{urn:x}":"2","Q:r":"3","{a}b}c":"4"}`)
	f.Fuzz(func(t *testing.T, props string) {
		var p map[string]string
		if json.Unmarshal([]byte(props), &p) != nil {
			return
		}
		var c ImportCollection
		c.SetRadicaleProps(p)
		for k, v := range c.Dead {
			var e davxml.Elem
			if err := xml.Unmarshal([]byte(v), &e); err != nil {
				t.Fatalf("dead property %s: %q is not XML: %v", k, v, err)
			}
			if got := "{" + e.XMLName.Space + "}" + e.XMLName.Local; got != k || len(e.Children) > 0 {
				t.Fatalf("dead property %s holds %q", k, v)
			}
		}
		for _, comp := range c.Components {
			if !slices.Contains(engine.AllComponents, comp) {
				t.Fatalf("component %q", comp)
			}
		}
		var again, third ImportCollection
		again.SetRadicaleProps(c.RadicaleProps())
		third.SetRadicaleProps(again.RadicaleProps())
		if diff := cmp.Diff(again, third); diff != "" {
			t.Fatalf("written and read twice (-once +twice):\n%s", diff)
		}
		if p["tag"] == "VCALENDAR" || p["tag"] == "VADDRESSBOOK" {
			if diff := cmp.Diff(c, again); diff != "" {
				t.Fatalf("read, written, read again (-first +second):\n%s", diff)
			}
		}
	})
}

// TestImportChecksProps: an import leaves out, and reports, what a
// PROPPATCH refuses (a calendar-timezone without a VTIMEZONE, a dead
// property that is not the element its key names); the collection still
// comes over. An import of the same properties again appends no event, a
// changed one appends one.
func TestImportChecksProps(t *testing.T) {
	db := mustOpen(t)
	l := &Local{DB: db, Meta: aliceMeta}
	good := ImportCollection{Path: "/dav/home/alice/good/", Kind: "calendar", DisplayName: "Good",
		Timezone: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + tzBerlin + "END:VCALENDAR\r\n",
		Dead:     map[string]string{"{urn:x}a": `<a xmlns="urn:x">1</a>`}}
	req := ImportRequest{Collections: []ImportCollection{
		{Path: "/dav/home/alice/tz/", Kind: "calendar", DisplayName: "TZ", Timezone: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"},
		{Path: "/dav/home/alice/dead/", Kind: "calendar", DisplayName: "Dead", Dead: map[string]string{
			"{urn:x}a": `<b xmlns="urn:x">1</b>`, "{urn:x}b": `<b xmlns="urn:x">1`, "{urn:x}c": `<c xmlns="urn:x">ok</c>`}},
		good,
	}}
	rep, err := l.Import(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 3 || !strings.HasPrefix(rep.Errors[0], "/dav/home/alice/tz/: calendar-timezone left out") ||
		rep.Errors[1] != `/dav/home/alice/dead/: dead property "{urn:x}a" left out: not one element named so` ||
		rep.Errors[2] != `/dav/home/alice/dead/: dead property "{urn:x}b" left out: not one element named so` {
		t.Fatalf("errors %q", rep.Errors)
	}
	if c, err := db.Collection("/dav/home/alice/tz/"); err != nil || c.Props.DisplayName != "TZ" || c.Props.Timezone != "" {
		t.Errorf("tz: %+v %v", c, err)
	}
	if c, err := db.Collection("/dav/home/alice/dead/"); err != nil || fmt.Sprint(c.Props.Dead) != `map[{urn:x}c:<c xmlns="urn:x">ok</c>]` {
		t.Errorf("dead: %+v %v", c, err)
	}
	c, err := db.Collection(good.Path)
	if err != nil || c.Props.DisplayName != "Good" || c.Props.Timezone != good.Timezone || c.Props.Dead["{urn:x}a"] != good.Dead["{urn:x}a"] {
		t.Fatalf("%s: %+v %v", good.Path, c, err)
	}
	head := db.Head()
	if _, err := l.Import(ctx, ImportRequest{Collections: []ImportCollection{good}}); err != nil || db.Head() != head {
		t.Fatalf("the same properties again: %v, %d new event(s)", err, db.Head()-head)
	}
	good.Color = "#abcdef"
	if _, err := l.Import(ctx, ImportRequest{Collections: []ImportCollection{good}}); err != nil || db.Head() != head+1 {
		t.Fatalf("a new color: %v, %d new event(s), want 1", err, db.Head()-head)
	}
	if c, _ := db.Collection(good.Path); c.Props.Color != "#abcdef" || c.Props.DisplayName != "Good" {
		t.Errorf("after the color: %+v", c.Props)
	}
}
