package engine

import (
	"math"
	"time"

	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

func propsToProto(p Props) *eventv1.CollectionProps {
	return &eventv1.CollectionProps{
		DisplayName: p.DisplayName,
		Description: p.Description,
		Color:       p.Color,
		Order:       p.Order,
		Timezone:    p.Timezone,
		Components:  append([]string(nil), p.Components...),
		Dead:        p.Clone().Dead,
	}
}

func propsFromProto(p *eventv1.CollectionProps) Props {
	if p == nil {
		return Props{}
	}
	return Props{
		DisplayName: p.DisplayName,
		Description: p.Description,
		Color:       p.Color,
		Order:       p.Order,
		Timezone:    p.Timezone,
		Components:  append([]string(nil), p.Components...),
		Dead:        Props{Dead: p.Dead}.Clone().Dead,
	}
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func envelopeFromProto(start, end int64) Envelope {
	var e Envelope
	if start != math.MinInt64 && start != 0 {
		e.Start = time.Unix(start, 0).UTC()
	}
	if end != math.MaxInt64 && end != 0 {
		e.End = time.Unix(end, 0).UTC()
	}
	return e
}

func (db *DB) collectionFromProto(c *statev1.Collection) *Collection {
	token := db.syncToken(c.Id, Seq(c.LastSeq)) // the CTag too
	return &Collection{
		ID:        c.Id,
		Path:      c.Path,
		Kind:      Kind(c.Kind),
		Owner:     c.Owner,
		Props:     propsFromProto(c.Props),
		LastSeq:   Seq(c.LastSeq),
		Horizon:   Seq(c.Horizon),
		Created:   unixNano(c.CreatedUnixNano),
		Modified:  unixNano(c.ModifiedUnixNano),
		Count:     c.Count,
		CTag:      token,
		SyncToken: token,
	}
}

func objectFromProto(name string, o *statev1.Object) *Object {
	return &Object{
		Name:        name,
		ETag:        o.Etag,
		UID:         o.Uid,
		ContentType: o.ContentType,
		Component:   o.Component,
		Size:        o.Size,
		Seq:         Seq(o.Seq),
		Created:     unixNano(o.CreatedUnixNano),
		Modified:    unixNano(o.ModifiedUnixNano),
		Envelope:    envelopeFromProto(o.EnvelopeStart, o.EnvelopeEnd),
		Dead:        o.Dead,
		ScheduleTag: o.ScheduleTag,
		bodySeq:     Seq(o.BodySeq),
	}
}

func userToProto(u User) *eventv1.User {
	p := &eventv1.User{Name: u.Name, PasswordHash: u.PasswordHash, Role: u.Role, Disabled: u.Disabled, Emails: u.Emails,
		Resource: resourceToProto(u.Resource)}
	for _, t := range u.Tokens {
		p.Tokens = append(p.Tokens, &eventv1.APIToken{
			Id: t.ID, SecretSha256: t.SecretSHA256, Label: t.Label, CreatedUnixNano: t.Created.UnixNano(),
		})
	}
	return p
}

func userFromProto(p *eventv1.User) *User {
	if p == nil {
		return nil
	}
	u := &User{Name: p.Name, PasswordHash: p.PasswordHash, Role: p.Role, Disabled: p.Disabled, Emails: p.Emails,
		Resource: resourceFromProto(p.Resource)}
	for _, a := range p.AppPasswords {
		u.AppPasswords = append(u.AppPasswords, appPasswordFromProto(a))
	}
	for _, t := range p.Tokens {
		u.Tokens = append(u.Tokens, APIToken{
			ID: t.Id, SecretSHA256: t.SecretSha256, Label: t.Label, Created: unixNano(t.CreatedUnixNano),
		})
	}
	return u
}

// eventFromProto converts a log record to the API's Event.
func eventFromProto(p *eventv1.Event) *Event {
	e := &Event{
		Seq:              Seq(p.Seq),
		Time:             unixNano(p.TimeUnixNano),
		Actor:            p.Actor,
		UserAgent:        p.UserAgent,
		RequestID:        p.RequestId,
		Op:               Op(p.Op),
		CollectionID:     p.CollectionId,
		CollectionPath:   p.CollectionPath,
		Object:           p.Object,
		ETag:             p.Etag,
		PreviousETag:     p.PreviousEtag,
		Body:             p.Body,
		ContentType:      p.ContentType,
		UID:              p.Uid,
		ToCollectionID:   p.ToCollectionId,
		ToCollectionPath: p.ToCollectionPath,
		ToObject:         p.ToObject,
		ObjectProps:      p.ObjectProps,
		Kind:             Kind(p.CollectionKind),
		Owner:            p.Owner,
		Props:            propsFromProto(p.Props),
		User:             userFromProto(p.User),
		Reason:           p.Reason,
		BodyErased:       p.BodyErased,
		HorizonSeq:       Seq(p.HorizonSeq),
	}
	e.Push = pushFromProto(p.Push, e.Seq)
	e.IMIP = imipFromProto(p.Imip)
	e.EnvelopeStart, e.EnvelopeEnd = p.EnvelopeStart, p.EnvelopeEnd
	for _, s := range p.PurgedSeqs {
		e.PurgedSeqs = append(e.PurgedSeqs, Seq(s))
	}
	if p.Group != nil {
		e.Group = groupFromProto(p.Group)
	}
	if p.Link != nil {
		e.LinkID, e.LinkFreeBusyOnly = p.Link.TokenSha256[:min(linkIDLen, len(p.Link.TokenSha256))], p.Link.FreebusyOnly
	}
	if p.Webhook != nil {
		e.Webhook = webhookFromProto(p.Webhook)
	}
	if s := p.Schedule; s != nil {
		e.Schedule = &Schedule{Method: s.Method, Originator: s.Originator, Recipient: s.Recipient, RecipientUser: s.RecipientUser, Status: s.Status}
	}
	if p.Proxy != nil {
		e.Proxy = &Proxy{Delegator: p.Proxy.Delegator, Delegate: p.Proxy.Delegate, Access: proxyAccessFromProto(p.Proxy.Access), Seq: Seq(p.Seq)}
	}
	if s := p.Share; s != nil {
		e.Share = &EventShare{
			Grantee: s.Grantee, Access: accessFromProto(s.Access), AutoAccept: s.AutoAccept,
			Reply: replyFromProto(s.Reply), MountName: s.MountName, Props: propsFromProto(s.Props), Summary: s.Summary,
		}
	}
	return e
}
