"""python-caldav as the well-behaved client of TestInteropRestore.

Usage: caldav_restore.py CALENDAR_URL USER PASSWORD COUNT

1. Creates COUNT events in the calendar, takes a full sync
   (objects_by_sync_token) and prints "READY <sync token>".
2. Then reads commands from stdin, one per line:
   "sync"  - incremental sync from the token it holds (RFC 6578); prints
             "SYNCED updated=U deleted=D count=N".
   "check" - the same sync, then asserts that its local copy holds exactly
             the COUNT original events (UID, SUMMARY, DESCRIPTION), and that
             a fresh full listing agrees; prints "OK" and exits.
Exits non-zero on the first failed assertion."""
import sys

import caldav

url, user, password, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def step(msg):
    print("step:", msg, flush=True)


def uid_of(i):
    return "restore-%02d@interop" % i


def vevent(i):
    # DESCRIPTION carries escaped commas and semicolons and is long enough
    # to matter if a restore re-serialized it.
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac interop restore//EN\r\n"
        "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:202603%02dT090000Z\r\nDTEND:202603%02dT100000Z\r\n"
        "SUMMARY:Original event %02d\r\n"
        "DESCRIPTION:Agenda for meeting %02d\\, room 4\\; bring the quarterly numbers and the minutes of the last one\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n" % (uid_of(i), i % 28 + 1, i % 28 + 1, i, i)
    )


def fields(obj):
    ev = obj.instance.vevent
    desc = ev.description.value if hasattr(ev, "description") else None
    return (ev.summary.value, desc)


def expected():
    out = {}
    for i in range(count):
        out[uid_of(i)] = (
            "Original event %02d" % i,
            "Agenda for meeting %02d, room 4; bring the quarterly numbers and the minutes of the last one" % i,
        )
    return out


def local_state(objects):
    got = {}
    for o in objects:
        uid = o.instance.vevent.uid.value
        assert uid not in got, "UID %s twice in the local copy" % uid
        got[uid] = fields(o)
    return got


def compare(got, want, what):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(u for u in set(got) & set(want) if got[u] != want[u])
    assert not missing and not extra and not wrong, "%s: missing %s, extra %s, wrong %s" % (
        what, missing, extra, [(u, got[u]) for u in wrong])


client = caldav.DAVClient(url=url, username=user, password=password)
cal = caldav.Calendar(client=client, url=url)

step("create %d events" % count)
for i in range(count):
    cal.save_event(vevent(i))

step("full sync")
coll = cal.objects_by_sync_token(load_objects=True)
assert coll.sync_token, "no sync token"
compare(local_state(coll.objects), expected(), "after creation")
print("READY", coll.sync_token, flush=True)

for line in sys.stdin:
    cmd = line.strip()
    if cmd not in ("sync", "check"):
        sys.exit("unknown command %r" % cmd)
    before = coll.sync_token
    updated, deleted = coll.sync()
    assert coll.sync_token and coll.sync_token != before, "sync token did not move: %r" % coll.sync_token
    objects = list(coll.objects)
    print("SYNCED updated=%d deleted=%d count=%d" % (len(updated), len(deleted), len(objects)), flush=True)
    if cmd == "check":
        compare(local_state(objects), expected(), "local copy after incremental sync")
        compare(local_state(cal.events()), expected(), "fresh listing")
        print("OK", flush=True)
        break
