package dav

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

const davx5Register = `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><n0:push-register xmlns:n0="https://bitfire.at/webdav-push"><n0:subscription><n0:web-push-subscription><n0:push-resource>https://up.example.net/yohd4yai5Phiz1wi</n0:push-resource><n0:subscription-public-key type="p256dh">BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4</n0:subscription-public-key><n0:auth-secret>BTBZMqHH6r4Tts7J_aSIgg</n0:auth-secret></n0:web-push-subscription></n0:subscription><n0:expires>EXPIRES</n0:expires></n0:push-register>`

// TestPushRegisterExpiresAndDontNotify: DAVx5 asks for 3 days and gets
// them (the Expires header says so); a write with Push-Dont-Notify naming
// the registration URL (and one that is not a registration URL) records
// the registration's id on the write's event; without push enabled the
// header is ignored and registration is 403 push-not-available.
func TestPushRegisterExpiresAndDontNotify(t *testing.T) {
	h, db := mustHandler(t, Options{Push: testPush{}})
	asked := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	req := httptest.NewRequest("POST", "/dav/home/alice/calendar/", strings.NewReader(strings.Replace(davx5Register, "EXPIRES", asked.Format(http.TimeFormat), 1)))
	req.SetBasicAuth("alice", "alice")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	exp, err := http.ParseTime(rec.Header().Get("Expires"))
	if err != nil || !exp.Equal(asked) {
		t.Errorf("Expires %q, asked for %v", rec.Header().Get("Expires"), asked)
	}
	loc := rec.Header().Get("Location")
	id, ok := strings.CutPrefix(loc, "http://example.com/dav/push/")
	if !ok || len(id) != 22 {
		t.Fatalf("Location %q", loc)
	}

	put := httptest.NewRequest("PUT", "/dav/home/alice/calendar/a.ics", strings.NewReader(string(testEvent("a"))))
	put.SetBasicAuth("alice", "alice")
	put.Header.Set("Push-Dont-Notify", `"`+loc+`", "https://other.example/not/a/registration"`)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, put)
	if rec.Code != http.StatusCreated {
		t.Fatalf("put: %d %s", rec.Code, rec.Body)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var got []string
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Op == engine.OpObjectPut && ev.Push != nil {
			got = ev.Push.DontNotify
		}
	}
	if !slices.Equal(got, []string{id}) {
		t.Errorf("dont-notify recorded %v, want [%s]", got, id)
	}
	if ids := parseDontNotify([]string{`"https://x/dav/push/a", *`}); !slices.Equal(ids, []string{"*"}) {
		t.Errorf("with *: %v", ids)
	}

	off, _ := mustHandler(t, Options{})
	req = httptest.NewRequest("POST", "/dav/home/alice/calendar/", strings.NewReader(strings.Replace(davx5Register, "EXPIRES", asked.Format(http.TimeFormat), 1)))
	req.SetBasicAuth("alice", "alice")
	rec = httptest.NewRecorder()
	off.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "push-not-available") {
		t.Errorf("push off: %d %s", rec.Code, rec.Body)
	}
}
