"""CalDAV through the real server with the `caldav` client library."""

from __future__ import annotations

import datetime as dt
import uuid

import caldav
import pytest
import requests

from tests.conftest import PASSWORD, Server


def client(server: Server, user: str = "alice") -> caldav.DAVClient:
    return caldav.DAVClient(url=server.url, username=user, password=PASSWORD)


def make_calendar(server: Server, name: str | None = None, user: str = "alice"
                  ) -> caldav.Calendar:
    principal = client(server, user).principal()
    return principal.make_calendar(name=name or f"cal-{uuid.uuid4().hex[:8]}",
                                   cal_id=uuid.uuid4().hex)


def event_text(uid: str, start: str, end: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{uid}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_discovery_through_well_known_finds_the_calendar_home(server: Server) -> None:
    response = requests.request("PROPFIND", f"{server.url}/.well-known/caldav",
                                auth=("alice", PASSWORD), allow_redirects=False)
    assert response.status_code in (301, 302, 307, 308)
    principal = client(server).principal()
    assert principal.calendar_home_set.url.path.rstrip("/") == "/alice"


def test_mkcalendar_keeps_a_non_ascii_display_name(server: Server) -> None:
    calendar = make_calendar(server, name="Kalender für Zoë ✓")
    found = [c for c in client(server).principal().calendars() if c.url == calendar.url]
    assert found and found[0].get_display_name() == "Kalender für Zoë ✓"


def test_put_get_delete_round_trip(server: Server) -> None:
    calendar = make_calendar(server)
    saved = calendar.save_event(event_text("rt-1", "20261201T100000Z", "20261201T110000Z"))
    fetched = calendar.event_by_uid("rt-1")
    assert "SUMMARY:rt-1" in fetched.data
    saved.delete()
    with pytest.raises(caldav.lib.error.NotFoundError):
        calendar.event_by_uid("rt-1")


def test_no_credentials_get_401(server: Server) -> None:
    assert requests.request("PROPFIND", f"{server.url}/alice/").status_code == 401


def test_another_users_home_is_forbidden(server: Server) -> None:
    response = requests.request("PROPFIND", f"{server.url}/bob/", auth=("alice", PASSWORD),
                                headers={"Depth": "1"})
    assert response.status_code == 403


def test_time_range_query_returns_events_in_the_window(server: Server) -> None:
    calendar = make_calendar(server)
    calendar.save_event(event_text("in", "20261210T100000Z", "20261210T110000Z"))
    calendar.save_event(event_text("out", "20261220T100000Z", "20261220T110000Z"))
    found = calendar.search(start=dt.datetime(2026, 12, 9, tzinfo=dt.UTC),
                            end=dt.datetime(2026, 12, 11, tzinfo=dt.UTC), event=True)
    assert [e.icalendar_component["UID"] for e in found] == ["in"]


def test_radicale_web_ui_stays_available(server: Server) -> None:
    response = requests.get(f"{server.url}/.web/")
    assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]


def test_health_reports_the_store(server: Server) -> None:
    body = requests.get(f"{server.url}/api/health").json()
    assert body == {"status": "ok", "store": {"status": "ok", "dialect": server.dialect}}


def test_a_vtodo_round_trips(server: Server) -> None:
    calendar = make_calendar(server)
    calendar.save_todo(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\n"
        "DTSTAMP:20260101T000000Z\r\nDUE:20261201T100000Z\r\nSUMMARY:Write tests\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n")
    todo = calendar.todo_by_uid("todo-1")
    assert str(todo.icalendar_component["SUMMARY"]) == "Write tests"


def test_options_and_propfind_advertise_the_same_dav_classes(server: Server) -> None:
    from radicale_plugin.app.options import dav_header

    home = f"{server.url}/alice/"
    options = requests.options(home, auth=("alice", PASSWORD), timeout=30)
    propfind = requests.request("PROPFIND", home, auth=("alice", PASSWORD),
                                headers={"Depth": "0"}, timeout=30)
    assert options.status_code == 200
    assert propfind.status_code == 207
    assert options.headers["DAV"] == dav_header()
    assert propfind.headers["DAV"] == dav_header()
    assert options.headers["DAV"].split(", ")[:4] == ["1", "2", "3", "calendar-access"]
