"""python-caldav's scheduling API (RFC 6638) against a running Almanac,
three users in three client sessions, each with a mailto: address at
example.org: alice invites bob and carol (Calendar.save_with_invites);
bob finds the invitation in his schedule inbox (Principal.schedule_inbox)
and accepts it (accept_invite); alice's copy shows bob ACCEPTED; alice's
free-busy request for bob and carol over the meeting
(Principal.freebusy_request) shows bob busy; carol's inbox holds the
invitation and its update after bob's reply; carol declines
(decline_invite); alice's copy shows carol DECLINED.

Usage: caldav_scheduling.py URL PASSWORD (users alice, bob and carol).
Prints one line per step and exits non-zero on the first failed
assertion."""
import sys
import uuid
from xml.etree import ElementTree
from datetime import datetime, timezone

import caldav

url, password = sys.argv[1:3]
C = "{urn:ietf:params:xml:ns:caldav}"
D = "{DAV:}"


def step(msg):
    print("step:", msg, flush=True)


def partstats(cal, uid):
    """The PARTSTAT of each ATTENDEE of uid in cal, by lower-case address."""
    return partstats_of(cal.event_by_uid(uid))


def partstats_of(ev):
    """The PARTSTAT of each ATTENDEE of the event ev, by lower-case address."""
    out = {}
    for a in ev.icalendar_component.get("attendee", []):
        out[str(a).lower()] = str(a.params.get("PARTSTAT", "NEEDS-ACTION"))
    return out


def invitations(principal, uid):
    """The schedule inbox messages of principal that carry uid."""
    return [m for m in principal.schedule_inbox().get_items() if uid in m.data]


def freebusy_answer(raw):
    """The busy periods (start, end as in the FREEBUSY value) per
    recipient of a C:schedule-response; a request-status other than 2.0
    fails."""
    root = ElementTree.fromstring(raw)
    assert root.tag == C + "schedule-response", root.tag
    out = {}
    for resp in root.findall(C + "response"):
        who = resp.find(C + "recipient/" + D + "href").text.lower()
        status = resp.find(C + "request-status").text
        assert status.startswith("2.0"), (who, status)
        # By hand: icalendar 4.0 (Debian's) cannot parse a FREEBUSY line
        # with several comma-separated periods, which RFC 5545 allows.
        data = resp.find(C + "calendar-data").text.replace("\r\n ", "").replace("\n ", "")
        periods = []
        for line in data.splitlines():
            name, _, value = line.partition(":")
            if name.split(";")[0].upper() == "FREEBUSY":
                periods.extend(tuple(p.split("/")) for p in value.strip().split(","))
        out[who] = periods
    return out


alice = caldav.DAVClient(url=url, username="alice", password=password)
bob = caldav.DAVClient(url=url, username="bob", password=password)
carol = caldav.DAVClient(url=url, username="carol", password=password)
ap, bp, cp = alice.principal(), bob.principal(), carol.principal()

step("each principal's first calendar user address is its mailto:")
for p, who in ((ap, "alice"), (bp, "bob"), (cp, "carol")):
    addrs = p.calendar_user_address_set()
    assert addrs[0].lower() == "mailto:%s@example.org" % who, addrs

step("alice invites bob and carol (save_with_invites)")
uid = "meeting-%s@interop" % uuid.uuid4().hex[:8]
ical = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac interop//EN\r\n"
    "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20260415T140000Z\r\nDTEND:20260415T150000Z\r\nSUMMARY:Planning\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n" % uid
)
acal = ap.calendars()[0]
acal.save_with_invites(ical, [bp, "mailto:carol@example.org"])
assert partstats(acal, uid) == {
    "mailto:bob@example.org": "NEEDS-ACTION",
    "mailto:carol@example.org": "NEEDS-ACTION",
}, partstats(acal, uid)

step("bob's inbox holds the invitation (schedule_inbox)")
got = invitations(bp, uid)
assert len(got) == 1, [m.data for m in got]
inv = got[0]
assert inv.is_invite_request(), inv.data
assert "mailto:alice@example.org" in inv.data.lower(), inv.data

step("bob accepts (accept_invite)")
inv.accept_invite()
assert partstats(bp.calendars()[0], uid)["mailto:bob@example.org"] == "ACCEPTED"

step("alice's copy shows bob ACCEPTED")
assert partstats(acal, uid)["mailto:bob@example.org"] == "ACCEPTED", partstats(acal, uid)

step("alice's free-busy request shows bob busy over the meeting (freebusy_request)")
# python-caldav 0.11's freebusy_request POSTs the RFC 6638 VFREEBUSY
# REQUEST to the outbox but parses the answer (a C:schedule-response) as
# if it were a DAV:multistatus and returns {None: {}}: the library's
# limitation, not Almanac's. The answer is read from the POST's response.
posted = []
client_post = alice.post


def keep_post(*args, **kwargs):
    posted.append(client_post(*args, **kwargs))
    return posted[-1]


alice.post = keep_post
start = datetime(2026, 4, 15, 13, 0, tzinfo=timezone.utc)
end = datetime(2026, 4, 15, 16, 0, tzinfo=timezone.utc)
ap.freebusy_request(start, end, ["mailto:bob@example.org", "mailto:carol@example.org"])
alice.post = client_post
assert len(posted) == 1 and posted[0].status == 200, [(r.status, r.raw) for r in posted]
busy = freebusy_answer(posted[0].raw)
assert set(busy) == {"mailto:bob@example.org", "mailto:carol@example.org"}, busy
assert ("20260415T140000Z", "20260415T150000Z") in busy["mailto:bob@example.org"], busy

step("carol's inbox holds the invitation and its update with bob ACCEPTED")
# After bob's reply the organizer's server tells the other attendees
# (RFC 6638 section 3.2.2.1 via the organizer's copy): a second REQUEST.
got = invitations(cp, uid)
assert len(got) == 2 and all(m.is_invite_request() for m in got), [m.data for m in got]
update = [m for m in got if partstats_of(m)["mailto:bob@example.org"] == "ACCEPTED"]
assert len(update) == 1, [m.data for m in got]

step("carol declines the update (decline_invite)")
update[0].decline_invite()
assert partstats(cp.calendars()[0], uid)["mailto:carol@example.org"] == "DECLINED"

step("alice's copy shows carol DECLINED and bob still ACCEPTED")
assert partstats(acal, uid) == {
    "mailto:bob@example.org": "ACCEPTED",
    "mailto:carol@example.org": "DECLINED",
}, partstats(acal, uid)

print("OK", flush=True)
