package web

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"net/url"

	qr "github.com/piglig/go-qr"
)

// maxQRText bounds the text of a QR code: a server URL with a user name
// is far shorter; a longer one (a huge Host header) gets no code.
const maxQRText = 512

// qrCode returns text as a QR code in a PNG data: URL for an <img> (no
// script, no request of its own), made by github.com/piglig/go-qr
// (Nayuki's encoder, no dependencies), medium error correction, 4 pixels
// a module and the standard 4-module quiet zone.
func qrCode(text string) (template.URL, error) {
	if len(text) > maxQRText {
		return "", fmt.Errorf("web: QR code text of %d bytes, at most %d", len(text), maxQRText)
	}
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return "", fmt.Errorf("web: QR code: %w", err)
	}
	png, err := code.ToPNGBytes(qr.NewQrCodeImgConfig(4, 4))
	if err != nil {
		return "", fmt.Errorf("web: QR code: %w", err)
	}
	// A data: URL of our own PNG is safe in src; html/template would
	// refuse any data: URL it cannot vouch for.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}

// davx5URL is the setup link DAVx5 opens with the server and user name
// filled in: its davx5:// scheme stands for https (caldav:// for plain
// http), with the user name as the URL's user.
func davx5URL(base *url.URL, user string) string {
	u := url.URL{Scheme: "davx5", User: url.User(user), Host: base.Host, Path: "/"}
	if base.Scheme == "http" {
		u.Scheme = "caldav"
	}
	return u.String()
}
