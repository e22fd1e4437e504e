#!/usr/bin/python3
"""Independent expansion of the corpus for engine/recur's tests.

Run once with Debian's python3-icalendar and python3-dateutil:
    /usr/bin/python3 engine/recur/testdata/gen_expected.py
For every corpus/NAME.ics it writes corpus/NAME.expected: one line per
instance overlapping WINDOW, "COMP UID RECURRENCE-ID START END" in UTC
("-" for a component that does not recur), sorted. Time zones come from
zoneinfo (IANA) or the calendar's VTIMEZONE via icalendar's to_tz();
recurrence from dateutil.rrule, iterated on naive wall clocks and then
localized; overrides and THISANDFUTURE are applied here by hand.
"""
import datetime as dt
import glob
import os
import re
import zoneinfo

import icalendar
from dateutil import rrule

UTC = dt.timezone.utc
WINDOW = (dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 1, tzinfo=UTC))


def localize(tz, naive):
    if hasattr(tz, "localize"):
        return tz.localize(naive)
    return naive.replace(tzinfo=tz)


class Cal:
    def __init__(self, cal):
        self.zones = {}
        for c in cal.walk("VTIMEZONE"):
            self.zones[str(c["TZID"])] = c.to_tz()

    def tz(self, tzid):
        if tzid is None:
            return UTC  # floating: evaluated in UTC
        try:
            return zoneinfo.ZoneInfo(tzid)
        except Exception:
            return self.zones[tzid]

    def values(self, comp, name):
        """All values of a (possibly repeated, multi-valued) property as
        (aware start, aware end or None, is_date)."""
        out = []
        props = comp.get(name)
        if props is None:
            return out
        if not isinstance(props, list):
            props = [props]
        for p in props:
            raw = p.to_ical().decode() if hasattr(p, "to_ical") else str(p)
            tzid = p.params.get("TZID") if hasattr(p, "params") else None
            for v in raw.split(","):
                first, _, second = v.partition("/")
                s, is_date = self.parse(first, tzid)
                e = None
                if second:
                    if second.startswith("P"):
                        e = s + icalendar.vDuration.from_ical(second)
                    else:
                        e, _ = self.parse(second, tzid)
                out.append((s, e, is_date))
        return out

    def parse(self, v, tzid):
        if len(v) == 8:
            d = dt.datetime.strptime(v, "%Y%m%d")
            return d.replace(tzinfo=UTC), True
        if v.endswith("Z"):
            return dt.datetime.strptime(v, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), False
        return localize(self.tz(tzid), dt.datetime.strptime(v, "%Y%m%dT%H%M%S")), False

    def one(self, comp, name):
        vals = self.values(comp, name)
        return vals[0] if vals else (None, None, False)


def add_nominal(start, dur, tz):
    """RFC 5545: days on the wall clock, then exact seconds."""
    days = dt.timedelta(days=dur.days)
    secs = dur - days
    wall = start.astimezone(tz).replace(tzinfo=None) + days
    return localize(tz, wall) + secs


def template(c, comp):
    start, _, is_date = c.one(comp, "DTSTART")
    tzid = comp["DTSTART"].params.get("TZID") if "DTSTART" in comp else None
    tz = c.tz(tzid)
    endname = "DUE" if comp.name == "VTODO" else "DTEND"
    end, _, _ = c.one(comp, endname)
    if start is None and end is not None:  # VTODO with DUE only
        return end, tz, is_date, lambda s: s
    if end is not None:
        delta = end - start
        return start, tz, is_date, lambda s: s + delta
    if "DURATION" in comp:
        dur = comp["DURATION"].dt
        return start, tz, is_date, lambda s: add_nominal(s, dur, tz)
    if is_date:
        return start, tz, is_date, lambda s: add_nominal(s, dt.timedelta(days=1), tz)
    return start, tz, is_date, lambda s: s


def rule_starts(c, master, start, tz):
    naive = start.astimezone(tz).replace(tzinfo=None)
    out = [start]
    for p in master.get("RRULE") and [master["RRULE"]] or []:
        rule = p.to_ical().decode()
        m = re.search(r"UNTIL=(\d{8}T\d{6}Z)", rule)
        if m:  # dateutil wants UNTIL in the wall clock of a naive DTSTART
            until = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            rule = rule.replace(m.group(1), until.astimezone(tz).strftime("%Y%m%dT%H%M%S"))
        r = rrule.rrulestr(rule, dtstart=naive)
        for t in r.between(naive, dt.datetime(2030, 1, 1), inc=True):
            out.append(localize(tz, t))
    return out


def expand(c, comps):
    master = [x for x in comps if "RECURRENCE-ID" not in x]
    overrides = [x for x in comps if "RECURRENCE-ID" in x]
    exact, future, rows = {}, [], []
    for o in overrides:
        rid, _, _ = c.one(o, "RECURRENCE-ID")
        if o["RECURRENCE-ID"].params.get("RANGE") == "THISANDFUTURE":
            future.append((rid, o))
        else:
            exact[rid] = o
    for rid, o in exact.items():
        s, _, _, end = template(c, o)
        rows.append((o.name, o["UID"], rid, s, end(s)))
    if not master:
        return rows
    m = master[0]
    start, tz, is_date, end = template(c, m)
    if "RRULE" not in m and "RDATE" not in m:
        return rows + [(m.name, m["UID"], None, start, end(start))]
    starts = {s: None for s in rule_starts(c, m, start, tz)}
    for s, e, _ in c.values(m, "RDATE"):
        starts.setdefault(s, e)
    for s, _, _ in c.values(m, "EXDATE"):
        starts.pop(s, None)
    future.sort(key=lambda x: x[0])
    for s, e in starts.items():
        if s in exact:
            continue
        f = [x for x in future if x[0] <= s]
        if f:
            frid, o = f[-1]
            os_, _, _, oend = template(c, o)
            ns = s + (os_ - frid)
            rows.append((m.name, m["UID"], s, ns, oend(ns)))
        else:
            rows.append((m.name, m["UID"], s, s, e if e is not None else end(s)))
    return rows


def fmt(t):
    return "-" if t is None else t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "corpus", "*.ics"))):
        cal = icalendar.Calendar.from_ical(open(path, "rb").read())
        c = Cal(cal)
        groups = {}
        for comp in cal.subcomponents:
            if comp.name in ("VEVENT", "VTODO"):
                groups.setdefault((comp.name, str(comp["UID"])), []).append(comp)
        rows = []
        for comps in groups.values():
            for name, uid, rid, s, e in expand(c, comps):
                if s < WINDOW[1] and max(s, e) >= WINDOW[0]:
                    rows.append(" ".join([name, str(uid), fmt(rid), fmt(s), fmt(e)]))
        with open(path[:-4] + ".expected", "w") as f:
            f.write("".join(r + "\n" for r in sorted(rows)))


if __name__ == "__main__":
    main()
