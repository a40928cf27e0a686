"""`calbridge import` splits a whole-calendar export into objects by UID."""

from __future__ import annotations

import json
from pathlib import Path

import icalendar
import requests

from tests import caldav_data as data
from tests.conftest import PASSWORD, Server


def export_text() -> str:
    weekly = data.weekly_with_exdate_and_override("imp-weekly")
    body = weekly[len(data.HEADER):-len(data.FOOTER)]
    single = data.single_event("imp-single", "20261201T100000Z", "20261201T110000Z")
    body += single[len(data.HEADER):-len(data.FOOTER)]
    body += "BEGIN:VEVENT\r\nDTSTART:20261201T100000Z\r\nSUMMARY:no uid\r\nEND:VEVENT\r\n"
    return data.HEADER + "X-WR-CALNAME:Imported\r\n" + body + data.FOOTER


def test_import_splits_by_uid_keeps_timezones_and_reports_skips(own_server: Server,
                                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "export.ics"
    source.write_text(export_text())
    result = own_server.cli("import", "/alice/imported/", str(source), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == 2
    assert [s["reason"] for s in report["skipped"]] == ["no UID"]

    response = requests.get(f"{own_server.url}/alice/imported/imp-weekly.ics",
                            auth=("alice", PASSWORD))
    assert response.status_code == 200
    cal = icalendar.Calendar.from_ical(response.text)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert len(cal.walk("VEVENT")) == 2  # the series and its override stay one object

    propfind = requests.request("PROPFIND", f"{own_server.url}/alice/imported/",
                                auth=("alice", PASSWORD), headers={"Depth": "0"})
    assert "Imported" in propfind.text


def test_reimport_replaces_objects_with_the_same_uid(own_server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "export.ics"
    source.write_text(export_text())
    assert own_server.cli("import", "/alice/cal/", str(source), "--json").returncode == 0
    again = json.loads(own_server.cli("import", "/alice/cal/", str(source), "--json").stdout)
    assert again["replaced"] == 2


SERIES = ("BEGIN:VEVENT\r\nUID:far-apart\r\nDTSTAMP:20261101T000000Z\r\n"
          "DTSTART;TZID=Europe/Berlin:20261207T100000\r\nDURATION:PT1H\r\n"
          "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Series with a long\r\n  folded title\r\n"
          "X-ODD-PROPERTY;X-PARAM=1:kept as written\r\nEND:VEVENT\r\n")
OVERRIDE = ("BEGIN:VEVENT\r\nUID:far-apart\r\n"
            "RECURRENCE-ID;TZID=Europe/Berlin:20261214T100000\r\nDTSTAMP:20261101T000000Z\r\n"
            "DTSTART;TZID=Europe/Berlin:20261214T150000\r\nDURATION:PT1H\r\n"
            "SUMMARY:Moved\r\nEND:VEVENT\r\n")
BROKEN = ("BEGIN:VEVENT\r\nUID:broken\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:not-a-date\r\n"
          "SUMMARY:Broken\r\nEND:VEVENT\r\n")


def numbered_events(count: int) -> str:
    return "".join(f"BEGIN:VEVENT\r\nUID:bulk-{n}\r\nDTSTAMP:20261101T000000Z\r\n"
                   f"DTSTART:2026{1 + n % 12:02d}{1 + n % 28:02d}T{n % 24:02d}0000Z\r\n"
                   f"DURATION:PT30M\r\nSUMMARY:Event {n}\r\nEND:VEVENT\r\n"
                   for n in range(count))


def test_import_joins_a_uid_across_the_file_and_keeps_its_bytes(own_server: Server,
                                                               tmp_path: Path) -> None:
    source = tmp_path / "export.ics"
    source.write_bytes((data.HEADER + SERIES + numbered_events(3) + BROKEN + OVERRIDE +
                        data.BERLIN + data.FOOTER).encode())  # the zone after its users
    result = own_server.cli("import", "/alice/joined/", str(source), "--json")
    report = json.loads(result.stdout)
    assert report["imported"] == 4
    assert [s["object"] for s in report["skipped"]] == ["broken"]
    stored = requests.get(f"{own_server.url}/alice/joined/far-apart.ics",
                          auth=("alice", PASSWORD), timeout=30).text
    # The series and its override, far apart in the file, are one object, byte for byte.
    assert SERIES + OVERRIDE in stored
    assert stored.count("BEGIN:VTIMEZONE") == 1 and "TZID:Europe/Berlin" in stored


def test_import_prepares_in_worker_processes_with_the_same_result(own_server: Server,
                                                                  tmp_path: Path) -> None:
    source = tmp_path / "bulk.ics"
    count = 1200  # more than two batches: the process pool prepares them
    source.write_bytes((data.HEADER + numbered_events(count) + data.FOOTER).encode())
    result = own_server.cli("import", "/alice/bulk/", str(source), "--json", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"calendar": "alice/bulk", "imported": count,
                                         "replaced": 0, "skipped": []}
    listing = requests.request("PROPFIND", f"{own_server.url}/alice/bulk/", timeout=60,
                               auth=("alice", PASSWORD), headers={"Depth": "1"})
    assert listing.text.count("<response>") == count + 1
    event = requests.get(f"{own_server.url}/alice/bulk/bulk-1111.ics", auth=("alice", PASSWORD),
                         timeout=30).text
    assert "SUMMARY:Event 1111\r\n" in event
