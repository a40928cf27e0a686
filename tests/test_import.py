"""`calbridge import` splits a whole-calendar export into objects by UID."""

from __future__ import annotations

import json

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
