"""python-caldav against a running Almanac, two users in two client
sessions: alice shares one calendar with bob read-write and another
read-only (CalendarServer's CS:share POST); bob discovers both under his
home, edits an event in the first, is refused (403) in the second;
alice's sync sees bob's edit, and the object's ?history names bob as the
actor.

Usage: caldav_sharing.py URL PASSWORD (users alice and bob). Prints one
line per step and exits non-zero on the first failed assertion."""
import json
import sys
import uuid

import caldav

url, password = sys.argv[1:3]


def step(msg):
    print("step:", msg, flush=True)


def vevent(uid, summary):
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac interop//EN\r\n"
        "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:%s\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n" % (uid, summary)
    )


def share(client, cal, sharee, access):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/">'
        "<B:set><A:href>mailto:%s@localhost</A:href><B:%s/></B:set></B:share>" % (sharee, access)
    )
    resp = client.request(str(cal.url), "POST", body, {"Content-Type": "text/xml; charset=utf-8"})
    assert resp.status == 200, (resp.status, resp.raw)


alice = caldav.DAVClient(url=url, username="alice", password=password)
bob = caldav.DAVClient(url=url, username="bob", password=password)

step("alice makes two calendars with an event each")
ap = alice.principal()
suffix = uuid.uuid4().hex[:6]
family = ap.make_calendar(name="Family " + suffix, cal_id="family-" + suffix)
work = ap.make_calendar(name="Work " + suffix, cal_id="work-" + suffix)
family.save_event(vevent("fam-1@interop", "Dinner"))
work.save_event(vevent("work-1@interop", "Standup"))
token0 = family.objects_by_sync_token(load_objects=False).sync_token

step("alice shares Family read-write and Work read-only with bob")
share(alice, family, "bob", "read-write")
share(alice, work, "bob", "read")

step("bob discovers both under his home")
bp = bob.principal()
by_name = {c.get_display_name(): c for c in bp.calendars()}
assert "Family " + suffix in by_name and "Work " + suffix in by_name, sorted(by_name)
bfamily, bwork = by_name["Family " + suffix], by_name["Work " + suffix]
assert "/dav/home/bob/" in str(bfamily.url), bfamily.url

step("bob edits the event in Family")
ev = bfamily.event_by_uid("fam-1@interop")
ev.data = vevent("fam-1@interop", "Dinner at bob's")
ev.save()
assert "Dinner at bob's" in bfamily.event_by_uid("fam-1@interop").data

step("bob is refused in Work")
try:
    bwork.save_event(vevent("work-2@interop", "Not allowed"))
except Exception as e:  # python-caldav raises PutError or AuthorizationError
    assert "403" in str(e) or "Forbidden" in str(e) or "Authorization" in type(e).__name__, repr(e)
else:
    raise AssertionError("bob's PUT into the read-only calendar was accepted")
wev = bwork.event_by_uid("work-1@interop")
assert "Standup" in wev.data

step("alice's sync sees bob's edit")
changed = family.objects_by_sync_token(sync_token=token0, load_objects=True)
got = [o for o in changed if "fam-1@interop" in o.data]
assert len(got) == 1 and "Dinner at bob's" in got[0].data, [o.data for o in changed]

step("the history names bob as the actor")
resp = alice.request(str(got[0].url) + "?history", "GET")
assert resp.status == 200, (resp.status, resp.raw)
changes = json.loads(resp.raw)
actors = [c.get("actor") for c in changes]
assert "bob" in actors, changes

print("OK", flush=True)
