"""python-caldav against a running Almanac: discovery from the root URL,
calendar creation, events and todos, and RFC 6578 sync across changes.

Usage: caldav_client.py URL USER PASSWORD. Prints one line per step and
exits non-zero on the first failed assertion."""
import sys
import uuid

import caldav

url, user, password = sys.argv[1:4]


def step(msg):
    print("step:", msg, flush=True)


def vevent(uid, summary):
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac interop//EN\r\n"
        "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:%s\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n" % (uid, summary)
    )


def vtodo(uid, summary):
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac interop//EN\r\n"
        "BEGIN:VTODO\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\n"
        "STATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n" % (uid, summary)
    )


client = caldav.DAVClient(url=url, username=user, password=password)

step("discover principal from the root URL")
principal = client.principal()
assert str(principal.url).endswith("/dav/principals/%s/" % user), principal.url
calendars = principal.calendars()
names = [str(c.url) for c in calendars]
assert any(n.endswith("/dav/home/%s/calendar/" % user) for n in names), names

step("create a calendar")
cal = principal.make_calendar(name="Interop", cal_id="interop-" + uuid.uuid4().hex[:8])
assert cal.url is not None
assert any(str(c.url) == str(cal.url) for c in principal.calendars())

step("initial sync token")
sync = cal.objects_by_sync_token(load_objects=False)
assert len(list(sync)) == 0, list(sync)
token0 = sync.sync_token
assert token0, "no sync token"

step("save events and a todo")
e1 = cal.save_event(vevent("ev-1@interop", "First"))
e2 = cal.save_event(vevent("ev-2@interop", "Second"))
t1 = cal.save_todo(vtodo("todo-1@interop", "Buy milk"))
assert len(cal.events()) == 2, cal.events()
assert len(cal.todos()) == 1, cal.todos()

step("sync after creation")
changed = cal.objects_by_sync_token(sync_token=token0, load_objects=True)
got = sorted(o.instance.vevent.uid.value if hasattr(o.instance, "vevent") else o.instance.vtodo.uid.value
             for o in changed)
assert got == ["ev-1@interop", "ev-2@interop", "todo-1@interop"], got
token1 = changed.sync_token
assert token1 and token1 != token0

step("edit an event")
e1.load()
e1.data = vevent("ev-1@interop", "First edited")
e1.save()
again = cal.event_by_uid("ev-1@interop")
assert "First edited" in again.data, again.data

step("complete the todo")
t1.load()
t1.data = t1.data.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
t1.save()

step("delete an event")
e2.delete()
assert len(cal.events()) == 1

step("sync after edit and delete")
changed = cal.objects_by_sync_token(sync_token=token1, load_objects=False)
hrefs = sorted(str(o.url).rsplit("/", 1)[1] for o in changed)
want = sorted(str(o.url).rsplit("/", 1)[1] for o in (e1, e2, t1))
assert hrefs == want, (hrefs, want)
token2 = changed.sync_token
assert token2 not in (token0, token1)

step("sync with no change")
nothing = cal.objects_by_sync_token(sync_token=token2, load_objects=False)
assert len(list(nothing)) == 0, list(nothing)
assert nothing.sync_token == token2, (nothing.sync_token, token2)

step("todo completed server-side")
todos = cal.todos(include_completed=True)
assert len(todos) == 1 and "STATUS:COMPLETED" in todos[0].data, [t.data for t in todos]

step("delete the calendar")
cal.delete()
assert not any(str(c.url) == str(cal.url) for c in principal.calendars())

print("OK", flush=True)
