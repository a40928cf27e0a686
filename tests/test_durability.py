"""What the store keeps: across restarts, against bad input, against conflicting writes."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, Server

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CS = "{http://calendarserver.org/ns/}"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
XML = {"Content-Type": "application/xml; charset=utf-8"}


def event_text(uid: str, summary: str | None = None, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
        f"SUMMARY:{summary or uid}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def session() -> requests.Session:
    s = requests.Session()
    s.auth = ("alice", PASSWORD)
    return s


def make_calendar(http: requests.Session, server: Server) -> str:
    """A new calendar of alice; returns its absolute URL (with a trailing slash)."""
    url = f"{server.url}/alice/{uuid.uuid4().hex[:12]}/"
    response = http.request("MKCALENDAR", url)
    assert response.status_code == 201, response.text
    return url


def put(http: requests.Session, url: str, text: str, **headers: str) -> requests.Response:
    return http.put(url, data=text.encode(), headers={**ICS, **headers})


def collection_state(http: requests.Session, calendar_url: str
                     ) -> tuple[dict[str, str], dict[str, str]]:
    """(href -> etag of every object, the calendar's own etag/ctag/sync-token)."""
    response = http.request("PROPFIND", calendar_url, headers={"Depth": "1", **XML}, data=(
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
        'xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:getetag/><CS:getctag/>'
        '<D:sync-token/><D:resourcetype/></D:prop></D:propfind>'))
    assert response.status_code == 207, response.text
    objects: dict[str, str] = {}
    calendar: dict[str, str] = {}
    for node in ET.fromstring(response.content).iter(f"{DAV}response"):
        href = node.findtext(f"{DAV}href")
        assert href is not None
        prop = node.find(f"{DAV}propstat/{DAV}prop")
        assert prop is not None
        if prop.find(f"{DAV}resourcetype/{DAV}collection") is not None:
            calendar = {"etag": prop.findtext(f"{DAV}getetag") or "",
                        "ctag": prop.findtext(f"{CS}getctag") or "",
                        "sync-token": prop.findtext(f"{DAV}sync-token") or ""}
        else:
            objects[href] = prop.findtext(f"{DAV}getetag") or ""
    assert calendar, "the calendar itself was not in the PROPFIND answer"
    return objects, calendar


def stored_with_state(http: requests.Session, calendar: str, name: str, text: str
                      ) -> tuple[str, tuple[dict[str, str], dict[str, str]]]:
    """Create ``name`` in ``calendar``; (its stored text, the calendar's state after it)."""
    assert put(http, f"{calendar}{name}", text).status_code == 201
    return http.get(f"{calendar}{name}").text, collection_state(http, calendar)


def sync_collection(http: requests.Session, calendar_url: str, token: str = ""
                    ) -> tuple[requests.Response, str, dict[str, int]]:
    """(response, new token, href -> HTTP status of each reported member)."""
    response = http.request("REPORT", calendar_url, headers={"Depth": "0", **XML}, data=(
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
        f'<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>'
        '<D:prop><D:getetag/></D:prop></D:sync-collection>'))
    if response.status_code != 207:
        return response, "", {}
    root = ET.fromstring(response.content)
    reported: dict[str, int] = {}
    for node in root.iter(f"{DAV}response"):
        href = node.findtext(f"{DAV}href") or ""
        status = node.findtext(f"{DAV}status") or node.findtext(f"{DAV}propstat/{DAV}status")
        assert status is not None
        reported[href] = int(status.split()[1])
    return response, root.findtext(f"{DAV}sync-token") or "", reported


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with session() as s:
        yield s


# -- (a) restarts -----------------------------------------------------------------------------

def test_restart_keeps_every_object_etag_and_sync_token(own_server: Server,
                                                         http: requests.Session) -> None:
    calendar = make_calendar(http, own_server)
    for i in range(3):
        assert put(http, f"{calendar}ev-{i}.ics", event_text(f"ev-{i}")).status_code == 201
    assert http.delete(f"{calendar}ev-2.ics").status_code in (200, 204)
    bodies = {i: http.get(f"{calendar}ev-{i}.ics").text for i in range(2)}
    etags_before, meta_before = collection_state(http, calendar)
    response, token, reported = sync_collection(http, calendar)
    assert response.status_code == 207 and token
    assert set(reported) == set(etags_before)

    own_server.stop()
    own_server.start()

    etags_after, meta_after = collection_state(http, calendar)
    assert etags_after == etags_before
    assert meta_after == meta_before
    assert {i: http.get(f"{calendar}ev-{i}.ics").text for i in range(2)} == bodies
    # The old token is still valid and, with nothing changed, reports nothing.
    response, same_token, reported = sync_collection(http, calendar, token)
    assert response.status_code == 207, response.text
    assert (same_token, reported) == (token, {})

    changed = f"{calendar}ev-1.ics"
    assert put(http, changed, event_text("ev-1", "changed after restart"),
               **{"If-Match": etags_before[path_of(changed)]}).status_code == 204
    response, new_token, reported = sync_collection(http, calendar, token)
    assert response.status_code == 207, response.text
    assert reported == {path_of(changed): 200}
    assert new_token != token
    # The token issued after the restart works too.
    assert sync_collection(http, calendar, new_token)[1:] == (new_token, {})


# -- (b) malformed objects ---------------------------------------------------------------------

_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calbridge tests//EN\r\n"
_VEVENT = ("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
           "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n{extra}END:VEVENT\r\n")
MALFORMED = {
    "garbage": "this is not iCalendar at all\r\n",
    "vcalendar-without-component": _HEAD + "END:VCALENDAR\r\n",
    "two-different-uids": _HEAD + _VEVENT.format(uid="one", extra="")
    + _VEVENT.format(uid="two", extra="") + "END:VCALENDAR\r\n",
    "rrule-without-freq": _HEAD + _VEVENT.format(uid="r", extra="RRULE:COUNT=3\r\n")
    + "END:VCALENDAR\r\n",
    "rrule-with-unknown-freq": _HEAD + _VEVENT.format(uid="r", extra="RRULE:FREQ=SOMETIMES\r\n")
    + "END:VCALENDAR\r\n",
    "rrule-with-bad-until": _HEAD
    + _VEVENT.format(uid="r", extra="RRULE:FREQ=DAILY;UNTIL=tomorrow\r\n") + "END:VCALENDAR\r\n",
    "unterminated-vevent": _HEAD + "BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20261201T100000Z\r\n",
    "vevent-without-uid": _HEAD + _VEVENT.replace("UID:{uid}\r\n", "").format(extra="")
    + "END:VCALENDAR\r\n",
    # Longer than the store's UID column: PostgreSQL would refuse it at the INSERT.
    "uid-of-1025-characters": _HEAD + _VEVENT.format(uid="u" * 1025, extra="")
    + "END:VCALENDAR\r\n",
}


@pytest.fixture(scope="module")
def victim(server: Server) -> Iterator[str]:
    """A calendar with one object, that every malformed PUT below tries to damage."""
    with session() as http:
        calendar = make_calendar(http, server)
        assert put(http, f"{calendar}keep.ics", event_text("keep")).status_code == 201
    yield calendar


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_put_is_refused_and_leaves_the_store_unchanged(
        victim: str, http: requests.Session, body: str) -> None:
    before = collection_state(http, victim)
    assert set(before[0]) == {path_of(f"{victim}keep.ics")}

    new = put(http, f"{victim}bad.ics", body)
    assert 400 <= new.status_code < 500, new.status_code
    # Replacing an existing object with garbage is refused the same way.
    replace = put(http, f"{victim}keep.ics", body)
    assert 400 <= replace.status_code < 500, replace.status_code

    # Same members with the same etags (a hash of the text), same ctag and sync token.
    assert collection_state(http, victim) == before


def test_overlong_href_and_collection_path_are_refused_and_change_nothing(
        victim: str, http: requests.Session) -> None:
    before = collection_state(http, victim)
    too_long = "h" * 1100
    assert 400 <= put(http, f"{victim}{too_long}.ics", event_text("long-href")).status_code < 500
    home = victim.rstrip("/").rsplit("/", 1)[0]
    response = http.request("MKCALENDAR", f"{home}/{too_long}/")
    assert 400 <= response.status_code < 500, response.status_code
    assert http.request("PROPFIND", f"{home}/{too_long}/", headers={"Depth": "0"}
                        ).status_code == 404
    assert collection_state(http, victim) == before


# -- (c) size limit --------------------------------------------------------------------------

MAX_BYTES = 2000


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", extra_env={"CALBRIDGE_STORAGE_MAX_OBJECT_BYTES":
                                               str(MAX_BYTES)})
    srv.start()
    srv.add_user("alice")
    yield srv
    srv.stop()


def long_description(size: int) -> str:
    lines = ["DESCRIPTION:" + "x" * 60] + [" " + "y" * 70 for _ in range(size // 70 + 1)]
    return "\r\n".join(lines) + "\r\n"


def test_an_object_over_max_object_bytes_is_refused_and_not_stored(
        small_server: Server, http: requests.Session) -> None:
    calendar = make_calendar(http, small_server)
    small = event_text("small")
    assert len(small.encode()) < MAX_BYTES
    stored, before = stored_with_state(http, calendar, "small.ics", small)

    big = event_text("big", extra=long_description(2 * MAX_BYTES))
    assert len(big.encode()) > MAX_BYTES
    response = put(http, f"{calendar}big.ics", big)
    assert 400 <= response.status_code < 500, response.status_code
    assert http.get(f"{calendar}big.ics").status_code == 404
    # Growing an existing object past the limit is refused too, and keeps the old version.
    response = put(http, f"{calendar}small.ics", event_text("small", extra=long_description(
        2 * MAX_BYTES)))
    assert 400 <= response.status_code < 500, response.status_code
    assert http.get(f"{calendar}small.ics").text == stored
    assert collection_state(http, calendar) == before


def test_whole_calendar_put_with_one_oversize_object_stores_nothing(
        small_server: Server, http: requests.Session) -> None:
    calendar = make_calendar(http, small_server)
    stored, before = stored_with_state(http, calendar, "old.ics", event_text("old"))
    events = [event_text("fine-1"), event_text("fine-2"),
              event_text("huge", extra=long_description(2 * MAX_BYTES))]
    whole = _HEAD + "".join(e[len(_HEAD):-len("END:VCALENDAR\r\n")] for e in events) \
        + "END:VCALENDAR\r\n"
    response = put(http, calendar, whole)
    assert 400 <= response.status_code < 500, response.status_code
    assert collection_state(http, calendar) == before
    assert http.get(f"{calendar}old.ics").text == stored


def test_calendar_advertises_the_configured_max_resource_size(
        small_server: Server, http: requests.Session) -> None:
    """RFC 4791 5.2.5: clients read CALDAV:max-resource-size to know what will be accepted."""
    calendar = make_calendar(http, small_server)
    response = http.request("PROPFIND", calendar, headers={"Depth": "0", **XML}, data=(
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:max-resource-size/></D:prop>'
        '</D:propfind>'))
    assert response.status_code == 207
    advertised = ET.fromstring(response.content).findtext(f".//{CALDAV}max-resource-size")
    assert advertised is not None
    assert int(advertised) <= MAX_BYTES, (
        f"advertises {advertised} bytes but refuses objects over {MAX_BYTES}")


# -- (d) UID conflicts, (e) If-None-Match ------------------------------------------------------

def test_second_object_with_the_same_uid_in_a_calendar_gets_409(
        server: Server, http: requests.Session) -> None:
    calendar = make_calendar(http, server)
    stored, before = stored_with_state(http, calendar, "first.ics", event_text("shared-uid"))

    response = put(http, f"{calendar}second.ics", event_text("shared-uid", "impostor"))
    assert response.status_code == 409
    assert "no-uid-conflict" in response.text
    assert http.get(f"{calendar}second.ics").status_code == 404
    assert http.get(f"{calendar}first.ics").text == stored
    assert collection_state(http, calendar) == before


def test_same_uid_in_another_calendar_is_allowed(server: Server,
                                                 http: requests.Session) -> None:
    first, second = make_calendar(http, server), make_calendar(http, server)
    assert put(http, f"{first}e.ics", event_text("everywhere")).status_code == 201
    assert put(http, f"{second}e.ics", event_text("everywhere")).status_code == 201


def test_if_none_match_star_on_an_existing_href_gets_412(
        server: Server, http: requests.Session) -> None:
    calendar = make_calendar(http, server)
    assert put(http, f"{calendar}taken.ics", event_text("taken"),
               **{"If-None-Match": "*"}).status_code == 201
    stored = http.get(f"{calendar}taken.ics").text
    before = collection_state(http, calendar)

    response = put(http, f"{calendar}taken.ics", event_text("taken", "overwritten"),
                   **{"If-None-Match": "*"})
    assert response.status_code == 412
    assert http.get(f"{calendar}taken.ics").text == stored
    assert collection_state(http, calendar) == before
