package audit

import (
	"encoding/json"
	"encoding/xml"
	"maps"
	"slices"
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
