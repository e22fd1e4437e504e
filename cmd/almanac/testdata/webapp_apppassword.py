"""python-caldav signs in with an app password made in the web app: it
finds the calendar NAME from the root URL, reads its events, adds one.

Usage: webapp_apppassword.py URL USER APP_PASSWORD NAME EXPECTED_EVENTS.
Prints one line per step and exits non-zero on the first failed
assertion."""
import sys

import caldav

url, user, password, name, expected = sys.argv[1:6]
client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
print("step: principal", principal.url, flush=True)
cals = [c for c in principal.calendars() if str(c.url).rstrip("/").endswith("/" + name)]
assert len(cals) == 1, "calendar %s not found among %s" % (name, [str(c.url) for c in principal.calendars()])
events = cals[0].events()
print("step: events", len(events), flush=True)
assert len(events) == int(expected), "want %s events, got %d" % (expected, len(events))
cals[0].save_event(
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac webapp test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:from-python\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nSUMMARY:From python\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
print("step: saved an event", flush=True)
print("OK")
