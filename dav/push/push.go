// Package push reads and writes the XML of WebDAV-Push
// (draft-bitfire-webdav-push, namespace https://bitfire.at/webdav-push)
// with the Web Push transport (RFC 8030, RFC 8291, RFC 8292):
//
//   - the collection properties transports (web-push with the server's
//     vapid-public-key, type p256ecdsa), topic and supported-triggers
//     (content-update at sync-level 1, property-update at depth 0);
//   - the push-register request body a client POSTs to a collection
//     (ParseRegister): one web-push-subscription (push-resource,
//     content-encoding aes128gcm, subscription-public-key type p256dh,
//     auth-secret), its triggers, and an optional expires;
//   - the push-message the server sends (Message).
//
// Parsing goes through davxml, so a body is bounded in depth, element
// and attribute count, and a DTD is refused. Package dav checks access,
// stores registrations through the engine and answers; the push sender
// (package push at the module's root) delivers the messages.
package push

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// NS is the WebDAV-Push namespace.
const NS = "https://bitfire.at/webdav-push"

// Names of the draft's elements.
var (
	// RootRegister is the root of a registration request (POST).
	RootRegister = xml.Name{Space: NS, Local: "push-register"}
	// The collection properties.
	PropTransports        = xml.Name{Space: NS, Local: "transports"}
	PropTopic             = xml.Name{Space: NS, Local: "topic"}
	PropSupportedTriggers = xml.Name{Space: NS, Local: "supported-triggers"}
	// The preconditions of a refused registration (403).
	CondInvalidSubscription = xml.Name{Space: NS, Local: "invalid-subscription"}
	CondPushNotAvailable    = xml.Name{Space: NS, Local: "push-not-available"}
	CondNoSupportedTrigger  = xml.Name{Space: NS, Local: "no-supported-trigger"}
)

// Errors of ParseRegister. Each wraps the reason; dav answers the first
// two with 403 and their precondition, the last with 400.
var (
	ErrInvalidSubscription = errors.New("push: invalid subscription")
	ErrNoSupportedTrigger  = errors.New("push: no supported trigger")
	ErrMalformed           = errors.New("push: malformed request")
)

// MaxPushResource is the longest push resource URL accepted.
const MaxPushResource = 2048

// Register is a parsed push-register request.
type Register struct {
	// PushResource is the Web Push endpoint: an absolute http or https
	// URL without user information or fragment.
	PushResource string
	// PublicKey is the subscription's P-256 public key (65 bytes,
	// uncompressed) and AuthSecret its 16-byte secret (RFC 8291 §3).
	PublicKey, AuthSecret []byte
	// ContentUpdate and PropertyUpdate are the triggers, downgraded to
	// what every collection supports (sync-level 1, depth 0). A request
	// without a trigger element asks for ContentUpdate (DAVx5 sends none).
	ContentUpdate, PropertyUpdate bool
	// Expires is the expiry the client asks for; zero when it asks for
	// none or sends a date that is not an HTTP date.
	Expires time.Time
}

type pushRegister struct {
	XMLName      xml.Name      `xml:"https://bitfire.at/webdav-push push-register"`
	Subscription *subscription `xml:"https://bitfire.at/webdav-push subscription"`
	Trigger      *trigger      `xml:"https://bitfire.at/webdav-push trigger"`
	Expires      string        `xml:"https://bitfire.at/webdav-push expires"`
}

type subscription struct {
	WebPush []webPushSub `xml:"https://bitfire.at/webdav-push web-push-subscription"`
}

type webPushSub struct {
	PushResource    string  `xml:"https://bitfire.at/webdav-push push-resource"`
	ContentEncoding *string `xml:"https://bitfire.at/webdav-push content-encoding"`
	PublicKey       *typed  `xml:"https://bitfire.at/webdav-push subscription-public-key"`
	AuthSecret      string  `xml:"https://bitfire.at/webdav-push auth-secret"`
}

type typed struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type trigger struct {
	Content  *struct{} `xml:"https://bitfire.at/webdav-push content-update"`
	Property *struct{} `xml:"https://bitfire.at/webdav-push property-update"`
}

// ParseRegister parses a push-register body. The request's depth and
// sync-level values are not checked: every trigger is downgraded to the
// one depth supported (the draft's "relaxed" processing).
//
// Errors: ErrMalformed (not a push-register, bad XML); ErrInvalidSubscription
// (no or several web-push-subscription, a push resource that is not an
// absolute http(s) URL or longer than MaxPushResource, a content encoding
// other than aes128gcm, a key that is not a P-256 point, a secret that is
// not 16 bytes); ErrNoSupportedTrigger (a trigger element naming neither
// content-update nor property-update).
func ParseRegister(body []byte) (*Register, error) {
	var pr pushRegister
	if err := davxml.Decode(body, &pr); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if pr.Subscription == nil || len(pr.Subscription.WebPush) != 1 {
		return nil, fmt.Errorf("%w: push-register needs one subscription holding one web-push-subscription", ErrInvalidSubscription)
	}
	s := pr.Subscription.WebPush[0]
	reg := &Register{}
	var err error
	if reg.PushResource, err = pushResource(s.PushResource); err != nil {
		return nil, err
	}
	if s.ContentEncoding != nil && strings.TrimSpace(*s.ContentEncoding) != "aes128gcm" {
		return nil, fmt.Errorf("%w: content-encoding %q: only aes128gcm is supported", ErrInvalidSubscription, strings.TrimSpace(*s.ContentEncoding))
	}
	if s.PublicKey == nil || s.AuthSecret == "" {
		return nil, fmt.Errorf("%w: message encryption is required: subscription-public-key and auth-secret are missing", ErrInvalidSubscription)
	}
	if t := strings.TrimSpace(s.PublicKey.Type); t != "" && t != "p256dh" {
		return nil, fmt.Errorf("%w: subscription-public-key type %q: only p256dh is supported", ErrInvalidSubscription, t)
	}
	if reg.PublicKey, err = decodeKey(s.PublicKey.Value); err != nil {
		return nil, fmt.Errorf("%w: subscription-public-key: %w", ErrInvalidSubscription, err)
	}
	if _, err := ecdh.P256().NewPublicKey(reg.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: subscription-public-key is not an uncompressed P-256 point", ErrInvalidSubscription)
	}
	if reg.AuthSecret, err = decodeKey(s.AuthSecret); err != nil || len(reg.AuthSecret) != 16 {
		return nil, fmt.Errorf("%w: auth-secret must be 16 bytes, base64url", ErrInvalidSubscription)
	}
	switch t := pr.Trigger; {
	case t == nil:
		reg.ContentUpdate = true
	case t.Content == nil && t.Property == nil:
		return nil, fmt.Errorf("%w: the trigger names neither content-update nor property-update", ErrNoSupportedTrigger)
	default:
		reg.ContentUpdate, reg.PropertyUpdate = t.Content != nil, t.Property != nil
	}
	if e := strings.TrimSpace(pr.Expires); e != "" {
		if exp, err := http.ParseTime(e); err == nil {
			reg.Expires = exp.UTC()
		}
	}
	return reg, nil
}

// pushResource checks a push resource URL.
func pushResource(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxPushResource {
		return "", fmt.Errorf("%w: the push resource is longer than %d bytes", ErrInvalidSubscription, MaxPushResource)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: the push resource must be an absolute http or https URL", ErrInvalidSubscription)
	}
	return s, nil
}

// decodeKey decodes base64url, with or without padding (the draft and
// RFC 8291 use unpadded base64url; some clients pad or use the standard
// alphabet).
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// Transports is the value of the transports property: the web-push
// transport with the server's VAPID public key (base64url).
func Transports(vapidPublicKey string) string {
	return `<web-push xmlns="` + NS + `"><vapid-public-key type="p256ecdsa">` +
		davxml.EscapeString(vapidPublicKey) + `</vapid-public-key></web-push>`
}

// SupportedTriggers is the value of the supported-triggers property
// (the D prefix is DAV:): content updates of internal members, and
// property updates of the collection itself.
const SupportedTriggers = `<content-update xmlns="` + NS + `"><D:sync-level>1</D:sync-level></content-update>` +
	`<property-update xmlns="` + NS + `"><D:depth>0</D:depth></property-update>`

// Message is a push-message for topic: a content-update carrying the
// collection's new sync-token when content is set, a property-update
// when props is (naming the properties in changed, DAV:-less local names
// of the WebDAV-Push namespace, e.g. "transports" after a VAPID key
// rotation).
func Message(topic, syncToken string, content, props bool, changed ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<push-message xmlns="` + NS + `" xmlns:D="DAV:"><topic>`)
	b.WriteString(davxml.EscapeString(topic))
	b.WriteString("</topic>")
	if content {
		b.WriteString("<content-update>")
		if syncToken != "" {
			b.WriteString("<D:sync-token>" + davxml.EscapeString(syncToken) + "</D:sync-token>")
		}
		b.WriteString("</content-update>")
	}
	if props {
		if len(changed) == 0 {
			b.WriteString("<property-update/>")
		} else {
			b.WriteString("<property-update><D:prop>")
			for _, c := range changed {
				b.WriteString("<" + c + "/>")
			}
			b.WriteString("</D:prop></property-update>")
		}
	}
	b.WriteString("</push-message>\n")
	return []byte(b.String())
}

// ParsedMessage is a push-message as a client reads it (tests, and the
// fuzz target's round trip).
type ParsedMessage struct {
	Topic          string
	SyncToken      string
	ContentUpdate  bool
	PropertyUpdate bool
	// Props are the local names inside property-update's DAV:prop.
	Props []string
}

type message struct {
	XMLName xml.Name `xml:"https://bitfire.at/webdav-push push-message"`
	Topic   string   `xml:"https://bitfire.at/webdav-push topic"`
	Content *struct {
		SyncToken string `xml:"DAV: sync-token"`
	} `xml:"https://bitfire.at/webdav-push content-update"`
	Property *struct {
		Prop struct {
			Any []davxml.Elem `xml:",any"`
		} `xml:"DAV: prop"`
	} `xml:"https://bitfire.at/webdav-push property-update"`
}

// ParseMessage parses a push-message.
func ParseMessage(body []byte) (*ParsedMessage, error) {
	var m message
	if err := davxml.Decode(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	p := &ParsedMessage{Topic: m.Topic, ContentUpdate: m.Content != nil, PropertyUpdate: m.Property != nil}
	if m.Content != nil {
		p.SyncToken = m.Content.SyncToken
	}
	if m.Property != nil {
		for _, n := range davxml.Names(m.Property.Prop.Any) {
			p.Props = append(p.Props, n.Local)
		}
	}
	return p, nil
}
