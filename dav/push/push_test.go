package push

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The RFC 8291 Appendix A user agent's keys, as DAVx5's tests send them.
const (
	uaPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	uaAuth   = "BTBZMqHH6r4Tts7J_aSIgg"
)

func body(sub, rest string) string {
	return `<push-register xmlns="https://bitfire.at/webdav-push" xmlns:D="DAV:"><subscription>` + sub + `</subscription>` + rest + `</push-register>`
}

func webPush(resource, extra string) string {
	return `<web-push-subscription><push-resource>` + resource + `</push-resource>` + extra +
		`<subscription-public-key type="p256dh">` + uaPublic + `</subscription-public-key><auth-secret>` + uaAuth + `</auth-secret></web-push-subscription>`
}

func TestParseRegister(t *testing.T) {
	r, err := ParseRegister([]byte(body(webPush("https://up.example/a", ""), `<expires>Wed, 20 Dec 2023 10:03:31 GMT</expires>`)))
	if err != nil {
		t.Fatal(err)
	}
	if r.PushResource != "https://up.example/a" || len(r.PublicKey) != 65 || len(r.AuthSecret) != 16 || !r.ContentUpdate || r.PropertyUpdate ||
		!r.Expires.Equal(time.Unix(1703066611, 0)) {
		t.Errorf("parsed %+v", r)
	}
	// Padded and standard-alphabet keys are read too; triggers downgrade.
	padded := strings.Replace(webPush("http://up.example/b", "<content-encoding>aes128gcm</content-encoding>"), uaAuth, "BTBZMqHH6r4Tts7J/aSIgg==", 1)
	r, err = ParseRegister([]byte(body(padded, `<trigger><property-update><D:depth>infinity</D:depth></property-update></trigger><expires>not a date</expires>`)))
	if err != nil || r.ContentUpdate || !r.PropertyUpdate || !r.Expires.IsZero() {
		t.Errorf("padded, property-update: %+v %v", r, err)
	}
	for _, tt := range []struct {
		name, body string
		want       error
	}{
		{"no subscription", body("", ""), ErrInvalidSubscription},
		{"two subscriptions", body(webPush("https://a/", "")+webPush("https://b/", ""), ""), ErrInvalidSubscription},
		{"relative", body(webPush("/push", ""), ""), ErrInvalidSubscription},
		{"ftp", body(webPush("ftp://up.example/", ""), ""), ErrInvalidSubscription},
		{"userinfo", body(webPush("https://u:p@up.example/", ""), ""), ErrInvalidSubscription},
		{"long", body(webPush("https://up.example/"+strings.Repeat("x", MaxPushResource), ""), ""), ErrInvalidSubscription},
		{"aesgcm", body(webPush("https://up.example/", "<content-encoding>aesgcm</content-encoding>"), ""), ErrInvalidSubscription},
		{"no keys", body(`<web-push-subscription><push-resource>https://up.example/</push-resource></web-push-subscription>`, ""), ErrInvalidSubscription},
		{"key type", body(strings.Replace(webPush("https://up.example/", ""), "p256dh", "x25519", 1), ""), ErrInvalidSubscription},
		{"off curve", body(strings.Replace(webPush("https://up.example/", ""), "BCVx", "BCVy", 1), ""), ErrInvalidSubscription},
		{"short secret", body(strings.Replace(webPush("https://up.example/", ""), uaAuth, "BTBZ", 1), ""), ErrInvalidSubscription},
		{"empty trigger", body(webPush("https://up.example/", ""), "<trigger/>"), ErrNoSupportedTrigger},
		{"unknown trigger", body(webPush("https://up.example/", ""), "<trigger><other/></trigger>"), ErrNoSupportedTrigger},
		{"other root", `<D:propfind xmlns:D="DAV:"/>`, ErrMalformed},
		{"DTD", `<!DOCTYPE x [<!ENTITY a "b">]><push-register xmlns="https://bitfire.at/webdav-push"/>`, ErrMalformed},
	} {
		if _, err := ParseRegister([]byte(tt.body)); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	m, err := ParseMessage(Message("T<1>", "http://a/sync/1?x&y", true, true, "transports"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != "T<1>" || m.SyncToken != "http://a/sync/1?x&y" || !m.ContentUpdate || !m.PropertyUpdate || len(m.Props) != 1 || m.Props[0] != "transports" {
		t.Errorf("round trip: %+v", m)
	}
	m, err = ParseMessage(Message("T", "", false, true))
	if err != nil || m.ContentUpdate || !m.PropertyUpdate || len(m.Props) != 0 {
		t.Errorf("property-update only: %+v %v", m, err)
	}
}

// FuzzParseRegister: any body parses or fails with one of the package's
// errors, never panics; what parses is a registration dav may store.
func FuzzParseRegister(f *testing.F) {
	f.Add([]byte(body(webPush("https://up.example/a", ""), `<expires>Wed, 20 Dec 2023 10:03:31 GMT</expires>`)))
	f.Add([]byte(body(webPush("https://up.example/a", "<content-encoding>aes128gcm</content-encoding>"), `<trigger><content-update><D:sync-level>1</D:sync-level></content-update><property-update/></trigger>`)))
	f.Add([]byte(body("", "<trigger/>")))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRegister(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidSubscription) && !errors.Is(err, ErrNoSupportedTrigger) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(r.PublicKey) != 65 || len(r.AuthSecret) != 16 || len(r.PushResource) > MaxPushResource || !(r.ContentUpdate || r.PropertyUpdate) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
