"""`calbridge migrate-radicale`: a folder written by a real Radicale 3.9 server (filled by real
clients: the caldav library for calendars, plain HTTP for an address book) moves into
calbridge, which then answers the same properties and bodies on the same URLs."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import caldav
import pytest
import requests

from tests.caldav_data import single_event, weekly_with_exdate_and_override
from tests.carddav_data import CONTACTS, VCARD_TYPE, D, make_addressbook
from tests.conftest import Server, store_env
from tests.radicale_reference import PlainRadicale, plain_radicale

USERS = {"alice": "alice-secret-1", "bob": "bob-secret-22"}
DAILY = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:standup\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDURATION:PT15M\r\n"
         "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR\r\nSUMMARY:Stand-up\r\nEND:VEVENT\r\n"
         "END:VCALENDAR\r\n")
TODO = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\n"
        "DTSTAMP:20260101T000000Z\r\nSUMMARY:Pay the rent\r\nRRULE:FREQ=MONTHLY\r\n"
        "DTSTART:20260101T090000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
PROPS = ("<D:displayname/><D:resourcetype/><D:getetag/><D:getcontenttype/>"
         "<C:calendar-description/><ICAL:calendar-color/><C:supported-calendar-component-set/>"
         "<CR:addressbook-description/><CR:supported-address-data/><X:dead/>")
NS = ('xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
      'xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:ICAL="http://apple.com/ns/ical/" '
      'xmlns:X="urn:example:dead"')


def fill(radicale: PlainRadicale) -> None:
    """What two users' clients leave in Radicale's folder."""
    alice = caldav.DAVClient(url=radicale.url, username="alice", password=USERS["alice"])
    work = alice.principal().make_calendar(name="Work", cal_id="work")
    work.save_event(weekly_with_exdate_and_override("weekly"))
    work.save_event(single_event("lunch", "20261201T120000Z", "20261201T130000Z"))
    work.save_todo(TODO)
    http = requests.Session()
    http.auth = ("alice", USERS["alice"])
    assert http.request("PROPPATCH", f"{radicale.url}/alice/work/", data=(
        f'<?xml version="1.0"?><D:propertyupdate {NS}><D:set><D:prop>'
        "<ICAL:calendar-color>#3366CCFF</ICAL:calendar-color>"
        "<C:calendar-description>Meetings</C:calendar-description><X:dead>kept</X:dead>"
        "</D:prop></D:set></D:propertyupdate>").encode()).status_code == 207
    book = f"{radicale.url}/alice/contacts/"
    make_addressbook(http, book)
    for href in ("jane.vcf", "bob.vcf", "ana.vcf"):  # bob.vcf holds a photo
        assert http.put(book + href, data=CONTACTS[href].encode(),
                        headers=VCARD_TYPE).status_code == 201
    bob = caldav.DAVClient(url=radicale.url, username="bob", password=USERS["bob"])
    home = bob.principal().make_calendar(name="Home", cal_id="home")
    home.save_event(DAILY)


def listing(http: requests.Session, url: str) -> dict[str, list[tuple[str, str, str]]]:
    """href -> sorted (status, property, value) of a depth-1 PROPFIND. A collection's entity
    tag is each server's own (calbridge's names the collection's revision): not compared."""
    answer = http.request("PROPFIND", url, headers={"Depth": "1"}, data=(
        f'<?xml version="1.0"?><D:propfind {NS}><D:prop>{PROPS}</D:prop></D:propfind>'
    ).encode())
    assert answer.status_code == 207, answer.text
    out = {}
    for response in ET.fromstring(answer.content).findall(f"{D}response"):
        href = response.findtext(f"{D}href") or ""
        props = []
        for propstat in response.findall(f"{D}propstat"):
            for prop in propstat.find(f"{D}prop") or []:
                inner = "".join(ET.tostring(c, encoding="unicode") for c in prop)
                value = (prop.text or "") + inner
                if prop.tag == f"{D}getetag" and href.endswith("/"):
                    value = "a collection's own"
                props.append((propstat.findtext(f"{D}status") or "", prop.tag, value))
        out[href] = sorted(props)
    return out


def everything(base: str) -> dict[str, object]:
    """Every collection listing and every object body, as the users see them."""
    seen: dict[str, object] = {}
    for user, password in USERS.items():
        http = requests.Session()
        http.auth = (user, password)
        home = listing(http, f"{base}/{user}/")
        seen[f"/{user}/"] = home
        for href in sorted(home):
            if href.rstrip("/") == f"/{user}":
                continue
            members = listing(http, base + href)
            seen[href] = members
            for member in sorted(members):
                if member != href:
                    got = http.get(base + member)
                    assert got.status_code == 200, member
                    seen[member] = (got.content, got.headers["ETag"],
                                    got.headers["Content-Type"])
    return seen


@pytest.fixture(scope="module")
def radicale_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    folder = tmp_path_factory.mktemp("radicale-to-move")
    htpasswd = folder / "users"
    htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    auth = (f"[auth]\ntype = htpasswd\nhtpasswd_filename = {htpasswd}\n"
            "htpasswd_encryption = plain\ndelay = 0\n")
    with plain_radicale(folder, auth=auth) as radicale:
        fill(radicale)
        seen = everything(radicale.url)
    yield folder, seen


def migrate(server: Server, folder: Path, *extra: str) -> tuple[int, dict, str]:
    result = server.cli("migrate-radicale", str(folder / "collections"), "--htpasswd",
                        str(folder / "users"), "--email-domain", "example.com", "--json",
                        *extra)
    return result.returncode, json.loads(result.stdout or "{}"), result.stderr


def test_a_radicale_folder_moves_and_calbridge_answers_the_same(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str,
        radicale_folder: tuple[Path, dict]) -> None:
    folder, radicale_seen = radicale_folder
    server = Server(tmp_path / "data", extra_env=store_env(request, backend))
    server.start()
    try:
        before = server.stored_cells()
        code, report, err = migrate(server, folder, "--dry-run")
        assert "dryRun" in report, err
        assert (code, report["dryRun"], report["usersCreated"]) == (0, True, ["alice", "bob"])
        assert report["objectsWritten"] == 7
        assert server.stored_cells() == before  # a dry run writes nothing

        code, report, err = migrate(server, folder)
        assert code == 0, err
        assert (report["usersCreated"], report["usersWithoutPassword"], report["skipped"]) == \
            (["alice", "bob"], [], [])
        assert (report["collectionsCreated"], report["objectsWritten"]) == (5, 7)
        assert everything(server.url) == radicale_seen

        stored = server.stored_cells()
        code, again, err = migrate(server, folder)  # idempotent
        assert code == 0, err
        assert (again["usersCreated"], again["collectionsCreated"],
                again["collectionsUpdated"], again["objectsWritten"],
                again["objectsUnchanged"]) == ([], 0, 0, 0, 7)
        assert server.stored_cells() == stored
    finally:
        server.stop()


def test_what_cannot_move_is_skipped_with_the_reason(
        tmp_path: Path, radicale_folder: tuple[Path, dict]) -> None:
    folder, _ = radicale_folder
    copy = tmp_path / "radicale"
    shutil.copytree(folder / "collections", copy)
    work = copy / "collection-root" / "alice" / "work"
    (work / "broken.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    (work / "card.vcf").write_text(CONTACTS["john.vcf"])
    (copy / "collection-root" / "carol").mkdir()  # a user without an htpasswd entry
    server = Server(tmp_path / "data")
    server.start()
    try:
        result = server.cli("migrate-radicale", str(copy), "--email-domain", "example.com",
                            "--json")
        report = json.loads(result.stdout)
        assert result.returncode == 1
        assert sorted(report["usersCreated"]) == ["alice", "bob", "carol"]
        assert {u["user"] for u in report["usersWithoutPassword"]} == {"alice", "bob", "carol"}
        assert {s["path"]: s["reason"] for s in report["skipped"]} == {
            "/alice/work/broken.ics": "the VCALENDAR holds no VEVENT, VTODO or VJOURNAL",
            "/alice/work/card.vcf": "a vCard cannot be stored in a VCALENDAR collection"}
        assert report["objectsWritten"] == 7
        http = requests.Session()
        http.auth = ("alice", USERS["alice"])  # no htpasswd given: no password yet
        assert http.request("PROPFIND", f"{server.url}/alice/").status_code == 401
        assert server.cli("user", "set-password", "alice", "--password-stdin",
                          stdin="a-new-password\n").returncode == 0
        http.auth = ("alice", "a-new-password")
        assert http.request("PROPFIND", f"{server.url}/alice/work/",
                            headers={"Depth": "0"}).status_code == 207
        missing = server.cli("migrate-radicale", str(tmp_path / "nowhere"))
        assert (missing.returncode, missing.stderr.strip()) == (
            2, f"error: {tmp_path / 'nowhere'} is no Radicale storage folder: it has no "
               "collection-root/")
    finally:
        server.stop()
