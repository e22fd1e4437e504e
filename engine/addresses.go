package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// Users' email addresses are their mailto: calendar user addresses (RFC
// 6638 §2.4.1): scheduling finds the user an ATTENDEE or ORGANIZER names
// through the index 'M' (address -> user), which apply keeps in step with
// the accounts.

// ErrAddressTaken is returned when another user holds an email address a
// user is to get; it is an ErrExists.
var ErrAddressTaken = fmt.Errorf("%w: email address taken", ErrExists)

// MaxEmailsPerUser bounds the addresses of one account.
const MaxEmailsPerUser = 20

// maxEmailLength is RFC 5321's bound on a forward path (254 octets).
const maxEmailLength = 254

// NormalizeEmail returns addr as the index holds it: without a mailto:
// prefix (in any case) and surrounding space, the domain in lower case
// (RFC 5321 §2.4: the local part is the mailbox's own, its case kept).
//
// Errors: ErrInvalidName wrapped, for anything that is not local@domain
// of printable ASCII without spaces, or longer than 254 bytes.
func NormalizeEmail(addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if len(a) >= 7 && strings.EqualFold(a[:7], "mailto:") {
		a = a[7:]
	}
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(a) > maxEmailLength {
		return "", fmt.Errorf("%w: %q is not an email address (local@domain)", ErrInvalidName, addr)
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',' {
			return "", fmt.Errorf("%w: email address %q holds %q", ErrInvalidName, addr, string(c))
		}
	}
	return local + "@" + strings.ToLower(domain), nil
}

// normalizeEmails normalizes addrs, drops duplicates and checks the bound.
func normalizeEmails(addrs []string) ([]string, error) {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		n, err := NormalizeEmail(a)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) > MaxEmailsPerUser {
		return nil, fmt.Errorf("%w: %d email addresses, at most %d per user", ErrInvalidName, len(out), MaxEmailsPerUser)
	}
	return out, nil
}

// checkEmails returns ErrExists when another user than u holds one of u's
// addresses.
func checkEmails(rw getter, u *eventv1.User) error {
	for _, a := range u.Emails {
		switch owner, err := getBytes(rw, keys.EmailKey(a)); {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case string(owner) != u.Name:
			return fmt.Errorf("%w: %s is user %s's", ErrAddressTaken, a, owner)
		}
	}
	return nil
}

// indexEmails adds u's addresses to the index (set) or removes them.
func indexEmails(rw readWriter, u *eventv1.User, set bool) error {
	for _, a := range u.Emails {
		var err error
		if set {
			err = rw.Set(keys.EmailKey(a), []byte(u.Name), nil)
		} else {
			err = rw.Delete(keys.EmailKey(a), nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// UserByEmail returns the name of the user holding the address addr (with
// or without mailto:, any case of the domain).
//
// Errors: ErrNotFound (also for what is no address).
func (v *View) UserByEmail(addr string) (string, error) {
	n, err := NormalizeEmail(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	name, err := getBytes(v.v.snap, keys.EmailKey(n))
	if err != nil {
		return "", err
	}
	return string(name), nil
}
