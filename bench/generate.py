"""A seeded, realistic calendar for the CalDAV benchmark.

Every object is one UID as a complete VCALENDAR text (with the VTIMEZONEs it uses). The mix:
mostly single events spread over two years back and one year ahead of ``today``, about 12 %
recurring series (weekly, daily, monthly, yearly all-day; COUNT, UNTIL or open-ended; EXDATEs;
overridden instances as extra VEVENTs with RECURRENCE-ID in the same object), Europe/Berlin and
America/New_York with VTIMEZONE blocks, UTC, all-day events (DATE values), organizers and
attendees, long descriptions, VALARMs and X- properties.

    python bench/generate.py --events 1000 --seed 1 > calendar.ics
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil import rrule

PRODID = "-//calbridge//bench generator//EN"

VTIMEZONES: dict[str, str] = {
    "Europe/Berlin": (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
        "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
        "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
    "America/New_York": (
        "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"
        "DTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"
        "DTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
}
UTC = "UTC"  # not a TZID: times are written with a Z suffix
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
LAST_SECOND = dt.time(23, 59, 59)
ARCHIVE_SIZE = 50

WORDS = (
    "project review budget quarterly planning sync roadmap design customer onboarding "
    "retrospective hiring interview lunch dentist workshop release migration database "
    "security audit marketing launch offsite training yoga football concert flight hotel "
    "invoice contract legal board report architecture deployment incident postmortem demo "
    "sprint backlog grooming coffee mentor feedback conference keynote travel visa"
).split()
PEOPLE = (
    "Anna Schmidt", "Ben Carter", "Chloé Martin", "Dmitri Ivanov", "Elif Yılmaz", "Femi Adeyemi",
    "Grace Liu", "Hiro Tanaka", "Inés García", "Jonas Weber", "Kaja Nowak", "Liam O'Brien",
    "Maya Patel", "Nils Berg", "Olga Petrova", "Pedro Santos", "Quinn Taylor", "Rosa Rossi",
)
LOCATIONS = (
    "Room 4.12, Alexanderplatz 1, 10178 Berlin", "Zoom", "https://meet.example.com/abc-defg-hij",
    "Cafe Einstein", "HQ, 350 5th Ave, New York, NY 10118", "Home", "", "", "",
)


@dataclass(frozen=True)
class GeneratedObject:
    """One calendar object resource: a UID, the href it is stored under, and its text."""

    uid: str
    href: str
    text: str
    kind: str  # "single", "allday", "weekly", "daily", "monthly", "yearly-allday"


# -- iCalendar text helpers ---------------------------------------------------------------------


def escape_text(value: str) -> str:
    """RFC 5545 3.3.11 TEXT escaping."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str) -> str:
    """RFC 5545 3.1 folding at 75 octets, never inside a UTF-8 sequence."""
    data = line.encode()
    if len(data) <= 75:
        return line + "\r\n"
    parts: list[str] = []
    limit = 75
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[:cut].decode())
        data = data[cut:]
        limit = 74  # continuation lines start with one space
    return "\r\n ".join(parts) + "\r\n"


def fmt_local(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def fmt_date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def dt_prop(name: str, value: dt.date | dt.datetime, tzid: str) -> str:
    """DTSTART/DTEND/RECURRENCE-ID/EXDATE with a DATE, a UTC time or a TZID local time."""
    if not isinstance(value, dt.datetime):
        return f"{name};VALUE=DATE:{fmt_date(value)}"
    if tzid == UTC:
        return f"{name}:{fmt_local(value)}Z"
    return f"{name};TZID={tzid}:{fmt_local(value)}"


def until_value(until: dt.date | dt.datetime, tzid: str) -> str:
    """RRULE UNTIL: a DATE for all-day series, else UTC (RFC 5545 3.3.10)."""
    if not isinstance(until, dt.datetime):
        return fmt_date(until)
    if tzid != UTC:
        until = until.replace(tzinfo=ZoneInfo(tzid)).astimezone(dt.UTC).replace(tzinfo=None)
    return fmt_local(until) + "Z"


# -- the generator ----------------------------------------------------------------------------


class CalendarGenerator:
    """Deterministic for a given (seed, today): the same objects, byte for byte."""

    def __init__(self, seed: int, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.first_day = today - dt.timedelta(days=730)
        self.last_day = today + dt.timedelta(days=365)
        self.stamp = dt.datetime.combine(today, dt.time(8, 0))

    # random pieces

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(low, high)))

    def summary(self) -> str:
        return self.words(1, 4).capitalize()

    def description(self) -> str:
        paragraphs = []
        for _ in range(self.rng.randint(2, 8)):
            count = self.rng.randint(2, 6)
            sentences = [self.words(6, 18).capitalize() + "." for _ in range(count)]
            paragraphs.append(" ".join(sentences))
        text = "\n\n".join(paragraphs)
        if self.rng.random() < 0.3:
            text += "\n\nAgenda:\n- item one; item two\n- costs, risks\n- next steps: ö, é, ✓"
        return text

    def timezone(self) -> str:
        roll = self.rng.random()
        return "Europe/Berlin" if roll < 0.5 else "America/New_York" if roll < 0.75 else UTC

    def day(self) -> dt.date:
        """A day in the three-year span, weekdays four times as likely as weekends."""
        span = (self.last_day - self.first_day).days
        while True:
            day = self.first_day + dt.timedelta(days=self.rng.randrange(span + 1))
            if day.weekday() < 5 or self.rng.random() < 0.25:
                return day

    def start_time(self, day: dt.date) -> dt.datetime:
        weights = (2, 6, 9, 10, 8, 6, 8, 9, 8, 6, 4, 2, 2, 1)
        hour = self.rng.choices(range(7, 21), weights=weights)[0]
        return dt.datetime.combine(day, dt.time(hour, self.rng.choice((0, 0, 0, 15, 30, 30, 45))))

    def duration(self) -> dt.timedelta:
        minutes = self.rng.choices((15, 30, 45, 60, 90, 120, 180, 240, 480, 1500),
                                   weights=(6, 20, 8, 30, 10, 10, 5, 4, 3, 1))[0]
        return dt.timedelta(minutes=minutes)

    def common_props(self, uid: str, sequence: int = 0) -> list[str]:
        """Properties every VEVENT of the object shares (before DTSTART and the rest)."""
        created = self.stamp - dt.timedelta(days=self.rng.randint(1, 900))
        return [
            f"UID:{uid}",
            f"DTSTAMP:{fmt_local(self.stamp)}Z",
            f"CREATED:{fmt_local(created)}Z",
            f"LAST-MODIFIED:{fmt_local(created + dt.timedelta(hours=self.rng.randint(0, 200)))}Z",
            f"SEQUENCE:{sequence}",
        ]

    def optional_props(self) -> list[str]:
        rng = self.rng
        lines: list[str] = []
        location = rng.choice(LOCATIONS)
        if location:
            lines.append(f"LOCATION:{escape_text(location)}")
        if rng.random() < 0.3:
            lines.append(f"DESCRIPTION:{escape_text(self.description())}")
        elif rng.random() < 0.3:
            lines.append(f"DESCRIPTION:{escape_text(self.words(3, 12))}")
        if rng.random() < 0.4:
            people = rng.sample(PEOPLE, rng.randint(2, 7))
            organizer, attendees = people[0], people[1:]
            lines.append(f'ORGANIZER;CN="{organizer}":mailto:{self.email(organizer)}')
            for person in attendees:
                partstat = rng.choice(("ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS-ACTION"))
                role = rng.choice(("REQ-PARTICIPANT", "REQ-PARTICIPANT", "OPT-PARTICIPANT"))
                lines.append(f'ATTENDEE;CN="{person}";CUTYPE=INDIVIDUAL;ROLE={role};'
                             f"PARTSTAT={partstat};RSVP=TRUE:mailto:{self.email(person)}")
        if rng.random() < 0.3:
            lines.append("CATEGORIES:" + ",".join(rng.sample(("Work", "Private", "Travel",
                                                               "Family", "Sport"), 2)))
        lines.append("STATUS:" + rng.choice(("CONFIRMED", "CONFIRMED", "TENTATIVE")))
        lines.append("TRANSP:" + rng.choice(("OPAQUE", "OPAQUE", "TRANSPARENT")))
        if rng.random() < 0.1:
            lines.append("CLASS:PRIVATE")
        if rng.random() < 0.2:
            lines.append(f"X-MOZ-GENERATION:{rng.randint(1, 9)}")
            lines.append("X-MICROSOFT-CDO-BUSYSTATUS:" + rng.choice(("BUSY", "FREE", "OOF")))
        if rng.random() < 0.1:
            lines.append("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC")
        return lines

    def alarm(self) -> list[str]:
        if self.rng.random() >= 0.25:
            return []
        minutes = self.rng.choice((5, 10, 15, 30, 60, 1440))
        return ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder",
                f"TRIGGER:-PT{minutes}M", "END:VALARM"]

    @staticmethod
    def email(person: str) -> str:
        ascii_name = person.encode("ascii", "ignore").decode().lower()
        return ascii_name.replace(" ", ".").replace("'", "") + "@example.com"

    # objects

    def single(self, uid: str) -> tuple[list[list[str]], set[str], str]:
        rng = self.rng
        day = self.day()
        if rng.random() < 0.1:  # all-day, one to three days
            days = rng.choice((1, 1, 1, 2, 3))
            lines = [dt_prop("DTSTART", day, UTC),
                     dt_prop("DTEND", day + dt.timedelta(days=days), UTC)]
            return [[*self.common_props(uid), *lines, f"SUMMARY:{escape_text(self.summary())}",
                     *self.optional_props(), *self.alarm()]], set(), "allday"
        tzid = self.timezone()
        start = self.start_time(day)
        roll = rng.random()
        if roll < 0.05:
            end_lines = [f"DURATION:PT{int(self.duration().total_seconds() // 60)}M"]
        elif roll < 0.07:
            end_lines = []  # DTSTART only: a zero-length instance
        else:
            end_lines = [dt_prop("DTEND", start + self.duration(), tzid)]
        lines = [dt_prop("DTSTART", start, tzid), *end_lines]
        return ([[*self.common_props(uid), *lines, f"SUMMARY:{escape_text(self.summary())}",
                  *self.optional_props(), *self.alarm()]],
                {tzid} - {UTC}, "single")

    def series_rule(self, kind: str
                    ) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime, str, str]:
        """(DTSTART, DTEND, RRULE, TZID) of a new series of ``kind``."""
        rng = self.rng
        # Series start before "today" (most of them), so many are live around now.
        first = self.first_day + dt.timedelta(
            days=rng.randrange((self.today - self.first_day).days + 120))
        start: dt.date | dt.datetime
        if kind == "yearly-allday":  # birthdays and anniversaries
            tzid = UTC
            start = first - dt.timedelta(days=rng.randrange(3650))
            rule = "FREQ=YEARLY"
            end: dt.date | dt.datetime = start + dt.timedelta(days=1)
        else:
            tzid = self.timezone()
            if kind == "weekly":
                start = self.start_time(first)
                byday = {WEEKDAYS[start.weekday()]}
                if start.weekday() < 5 and rng.random() < 0.3:
                    byday.add(rng.choice(WEEKDAYS[:5]))
                days = ",".join(sorted(byday, key=WEEKDAYS.index))
                rule = f"FREQ=WEEKLY;INTERVAL={rng.choice((1, 1, 1, 2))};BYDAY={days}"
            elif kind == "daily":
                while first.weekday() >= 5:  # the first instance is a working day
                    first += dt.timedelta(days=1)
                start = self.start_time(first)
                rule = "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR" if rng.random() < 0.6 else "FREQ=DAILY"
            elif rng.random() < 0.5:
                start = self.start_time(first.replace(day=min(first.day, 28)))
                rule = f"FREQ=MONTHLY;BYMONTHDAY={start.day}"
            else:  # the first Monday of each month; DTSTART is one of them
                monday = first.replace(day=1)
                while monday.weekday() != 0:
                    monday += dt.timedelta(days=1)
                start = self.start_time(monday)
                rule = "FREQ=MONTHLY;BYDAY=1MO"
            length = dt.timedelta(minutes=rng.choice((15, 15, 30))) if kind == "daily" \
                else self.duration()
            end = start + length
            bound = rng.random()
            if bound < 0.35:
                rule += f";COUNT={rng.randint(4, 60)}"
            elif bound < 0.7:
                until_day = min(first + dt.timedelta(days=rng.randint(30, 500)), self.last_day)
                rule += f";UNTIL={until_value(dt.datetime.combine(until_day, LAST_SECOND), tzid)}"
        return start, end, rule, tzid

    def series(self, uid: str) -> tuple[list[list[str]], set[str], str]:
        rng = self.rng
        kind = rng.choices(("weekly", "daily", "monthly", "yearly-allday"),
                           weights=(50, 20, 15, 15))[0]
        start, end, rule, tzid = self.series_rule(kind)
        # Real instances (dateutil over naive local times) to pick EXDATEs and overrides from.
        naive_start = start if isinstance(start, dt.datetime) else \
            dt.datetime.combine(start, dt.time())
        instances = list(rrule.rrulestr(_local_rule(rule, tzid), dtstart=naive_start).between(
            naive_start, dt.datetime.combine(self.last_day, dt.time()), inc=True))[:400]
        all_day = not isinstance(start, dt.datetime)

        def value(instance: dt.datetime) -> dt.date | dt.datetime:
            return instance.date() if all_day else instance

        base = [*self.common_props(uid), dt_prop("DTSTART", start, tzid),
                dt_prop("DTEND", end, tzid), f"RRULE:{rule}",
                f"SUMMARY:{escape_text(self.summary())}"]
        free = instances[1:]
        if free and rng.random() < (0.6 if all_day else 0.4):
            excluded = set(rng.sample(free, min(len(free), rng.randint(1, 3))))
            free = [i for i in free if i not in excluded]
            base += [dt_prop("EXDATE", value(i), tzid) for i in sorted(excluded)]
        components = [[*base, *self.optional_props(), *self.alarm()]]
        if free and not all_day and rng.random() < 0.3:
            for instance in sorted(rng.sample(free, min(len(free), rng.randint(1, 2)))):
                moved = instance + dt.timedelta(hours=rng.choice((-2, 1, 2, 3, 24)))
                components.append([
                    *self.common_props(uid, sequence=1),
                    dt_prop("RECURRENCE-ID", instance, tzid),
                    dt_prop("DTSTART", moved, tzid),
                    dt_prop("DTEND", moved + (end - start), tzid),  # type: ignore[operator]
                    f"SUMMARY:{escape_text(self.summary())} (moved)",
                    *self.optional_props(),
                ])
        return components, {tzid} - {UTC}, kind

    def holiday(self, uid: str, day: dt.date, name: str, skipped: dt.date
                ) -> tuple[list[list[str]], set[str], str]:
        """A yearly all-day event since 2015 with one year skipped (EXDATE)."""
        start = day.replace(year=2015)
        return [[*self.common_props(uid), dt_prop("DTSTART", start, UTC),
                 dt_prop("DTEND", start + dt.timedelta(days=1), UTC), "RRULE:FREQ=YEARLY",
                 dt_prop("EXDATE", skipped, UTC), f"SUMMARY:{escape_text(name)}",
                 "TRANSP:TRANSPARENT"]], set(), "yearly-allday"

    def archive_week(self, count: int, week: Window) -> list[GeneratedObject]:
        """``count`` objects inside ``week`` and nowhere else: one weekday series (COUNT=5, an
        EXDATE, a moved instance) in eight, the rest single events, all-day ones among them."""
        self.first_day, self.last_day = week.start.date(), week.end.date() - dt.timedelta(days=1)
        monday = week.start.date()
        out = []
        for number in range(count):
            uid = f"archive-{number:03d}-{self.rng.getrandbits(32):08x}"
            if number % 8 == 0:
                tzid = self.timezone()
                start = self.start_time(monday)
                end = start + self.duration()
                base = [*self.common_props(uid), dt_prop("DTSTART", start, tzid),
                        dt_prop("DTEND", end, tzid), "RRULE:FREQ=DAILY;COUNT=5",
                        dt_prop("EXDATE", start + dt.timedelta(days=2), tzid),
                        f"SUMMARY:{escape_text(self.summary())}"]
                moved = start + dt.timedelta(days=3)
                override = [*self.common_props(uid, sequence=1),
                            dt_prop("RECURRENCE-ID", moved, tzid),
                            dt_prop("DTSTART", moved + dt.timedelta(hours=1), tzid),
                            dt_prop("DTEND", end + dt.timedelta(days=3, hours=1), tzid),
                            f"SUMMARY:{escape_text(self.summary())} (moved)"]
                components, tzids, kind = ([[*base, *self.optional_props()], override],
                                           {tzid} - {UTC}, "daily")
            else:
                components, tzids, kind = self.single(uid)
            out.append(GeneratedObject(uid=uid, href=f"{uid}.ics",
                                       text=object_text(components, tzids), kind=kind))
        return out

    def objects(self, count: int, recurring_share: float = 0.12) -> list[GeneratedObject]:
        # Holidays on the benchmark windows' last days and inside them: an all-day instance
        # that starts exactly when a window ends is outside it (RFC 4791 9.9).
        week, month = bench_windows(self.today)
        last_year = self.today.year - 1
        in_month = month.start.date() + dt.timedelta(days=23)
        holidays = {  # number: (day, summary, EXDATE)
            1: (week.end.date(), "Holiday on the day the week window ends",
                week.end.date().replace(year=last_year)),
            2: (month.end.date(), "Holiday on the day the month window ends",
                month.end.date().replace(year=last_year)),
            3: (in_month, "Holiday in the month window, skipped this year", in_month),
        }
        out = []
        for number in range(count):
            uid = f"bench-{number:06d}-{self.rng.getrandbits(32):08x}"
            if number in holidays and count >= 100:
                components, tzids, kind = self.holiday(uid, *holidays[number])
            elif self.rng.random() < recurring_share:
                components, tzids, kind = self.series(uid)
            else:
                components, tzids, kind = self.single(uid)
            text = object_text(components, tzids)
            out.append(GeneratedObject(uid=uid, href=f"{uid}.ics", text=text, kind=kind))
        return out


@dataclass(frozen=True)
class Window:
    label: str
    start: dt.datetime  # UTC
    end: dt.datetime  # UTC, exclusive

    @property
    def caldav(self) -> tuple[str, str]:
        return (self.start.strftime("%Y%m%dT%H%M%SZ"), self.end.strftime("%Y%m%dT%H%M%SZ"))


def bench_windows(today: dt.date) -> tuple[Window, Window]:
    """A week and a month from the first of next month (dense: near now, in UTC)."""
    first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    return (Window("1 week", start, start + dt.timedelta(days=7)),
            Window("1 month", start, dt.datetime.combine(after, dt.time(), dt.UTC)))


def month_window(label: str, first: dt.date) -> Window:
    after = (first + dt.timedelta(days=32)).replace(day=1)
    return Window(label, dt.datetime.combine(first, dt.time(), dt.UTC),
                  dt.datetime.combine(after, dt.time(), dt.UTC))


def era_windows(today: dt.date) -> tuple[Window, Window, Window]:
    """The month 18 months back, the current month and the month 30 months ahead: users
    browse last year, and sync clients ask for windows the server did not guess."""
    this = today.replace(day=1)

    def shifted(months: int) -> dt.date:
        index = this.year * 12 + this.month - 1 + months
        return dt.date(index // 12, index % 12 + 1, 1)

    return (month_window("month 18 months back", shifted(-18)),
            month_window("current month", this),
            month_window("month 30 months ahead", shifted(30)))


def empty_window(today: dt.date) -> Window:
    """A week 40 years back: before every generated series starts, so every answer is empty."""
    start = dt.datetime.combine(today.replace(year=today.year - 40, day=1), dt.time(), dt.UTC)
    return Window("empty week (40 years back)", start, start + dt.timedelta(days=7))


def _local_rule(rule: str, tzid: str) -> str:
    """The rule with UNTIL in the series' local time, for dateutil over naive local times."""
    if ";UNTIL=" not in rule:
        return rule
    head, until = rule.split(";UNTIL=")
    until_utc = dt.datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    local = until_utc.astimezone(ZoneInfo("UTC" if tzid == UTC else tzid))
    return f"{head};UNTIL={fmt_local(local.replace(tzinfo=None))}"


def object_text(components: Sequence[Sequence[str]], tzids: set[str]) -> str:
    parts = ["BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", f"PRODID:{PRODID}\r\n",
             "CALSCALE:GREGORIAN\r\n"]
    parts += [VTIMEZONES[tzid] for tzid in sorted(tzids)]
    for lines in components:
        parts.append("BEGIN:VEVENT\r\n")
        parts += [fold(line) for line in lines]
        parts.append("END:VEVENT\r\n")
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


def archive_window(today: dt.date) -> Window:
    """A week 15 years back, Monday to Monday: older than anything ``generate`` writes (its
    yearly series start at most twelve years back), so it holds the archive week alone, and
    newer than the VTIMEZONE rules' first onsets (2007)."""
    monday = today.replace(year=today.year - 15)
    monday -= dt.timedelta(days=monday.weekday())
    start = dt.datetime.combine(monday, dt.time(), dt.UTC)
    return Window(f"archive week ({ARCHIVE_SIZE} objects at every size)", start,
                  start + dt.timedelta(days=7))


def archive_objects(today: dt.date, seed: int) -> list[GeneratedObject]:
    """The same ``ARCHIVE_SIZE`` objects in ``archive_window`` for every calendar size, so that
    a query of that window has an answer of one size whatever the calendar's."""
    return CalendarGenerator(seed, today).archive_week(ARCHIVE_SIZE, archive_window(today))


def collection_text(objects: Sequence[GeneratedObject]) -> str:
    """All objects as one VCALENDAR (a whole-collection PUT body): VTIMEZONEs once."""
    body: list[str] = []
    for obj in objects:
        lines = obj.text.split("\r\n")
        inside = False
        for line in lines:
            if line == "BEGIN:VEVENT":
                inside = True
            if inside:
                body.append(line + "\r\n")
            if line == "END:VEVENT":
                inside = False
    head = ["BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", f"PRODID:{PRODID}\r\n",
            "CALSCALE:GREGORIAN\r\n", *VTIMEZONES.values()]
    return "".join([*head, *body, "END:VCALENDAR\r\n"])


def generate(count: int, seed: int, today: dt.date) -> list[GeneratedObject]:
    return CalendarGenerator(seed, today).objects(count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    args = parser.parse_args(argv)
    objects = generate(args.events, args.seed, args.today)
    sys.stdout.write(collection_text(objects))
    kinds: dict[str, int] = {}
    for obj in objects:
        kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
    print(f"{len(objects)} objects: {kinds}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
