"""Address books: vCards through CardDAV, compared with plain Radicale's own answers
(multifilesystem storage, started here) to the same requests, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bridge.store.schema import calendar_object, collection, occurrence
from radicale_plugin.internals import etag_of
from tests.carddav_data import (
    CONTACTS,
    CR,
    PHOTO_BYTES,
    PHOTO_URI,
    VCARD_TYPE,
    D,
    content_lines,
    make_addressbook,
    multiget,
    query,
    report,
    responses,
    unfolded_value,
)
from tests.conftest import PASSWORD, Server
from tests.radicale_reference import PlainRadicale, plain_radicale


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainRadicale]:
    with plain_radicale(tmp_path_factory.mktemp("plain-radicale-cards")) as server:
        yield server


def session(user: str, password: str) -> requests.Session:
    http = requests.Session()
    http.auth = (user, password)
    return http


class Door:
    """One address book on one server (calbridge or plain Radicale), filled the same way."""

    def __init__(self, base_url: str, password: str) -> None:
        self.http = session("alice", password)
        self.url = f"{base_url}/alice/book-{uuid.uuid4().hex[:8]}/"
        make_addressbook(self.http, self.url)

    def put(self, href: str, text: str, **headers: str) -> requests.Response:
        return self.http.put(self.url + href, data=text.encode(), headers={**VCARD_TYPE,
                                                                           **headers})

    def fill(self) -> None:
        for href, text in CONTACTS.items():
            answer = self.put(href, text)
            assert answer.status_code == 201, answer.text


@pytest.fixture
def doors(server: Server, radicale: PlainRadicale) -> tuple[Door, Door]:
    pair = Door(server.url, PASSWORD), Door(radicale.url, "any")
    for door in pair:
        door.fill()
    return pair


def test_vcards_are_stored_as_written_and_served_with_radicales_headers(
        doors: tuple[Door, Door]) -> None:
    """calbridge keeps the client's bytes; Radicale's file storage keeps vobject's
    re-serialization of them: the same content lines, in another order."""
    ours, theirs = doors
    for href, text in CONTACTS.items():
        got = [door.http.get(door.url + href) for door in doors]
        assert [g.status_code for g in got] == [200, 200]
        assert got[0].content == text.encode()
        assert got[0].headers["ETag"] == etag_of(text)
        assert got[0].headers["Content-Type"] == got[1].headers["Content-Type"] == \
            "text/vcard; charset=utf-8"
        if href != "ana.vcf":  # Radicale cuts ana's PHOTO data URI (test below)
            assert content_lines(got[0].text) == content_lines(got[1].text)
    whole = ours.http.get(ours.url)
    assert whole.status_code == 200
    assert whole.content == "".join(CONTACTS[h] for h in sorted(CONTACTS)).encode()


def test_photos_survive_byte_for_byte(doors: tuple[Door, Door]) -> None:
    ours, theirs = doors
    v4 = ours.http.get(ours.url + "ana.vcf").text
    assert unfolded_value(v4, "PHOTO") == PHOTO_URI
    v3 = ours.http.get(ours.url + "bob.vcf").text
    assert base64.b64decode(unfolded_value(v3, "PHOTO")) == PHOTO_BYTES
    # in every answer that carries the card, not only GET
    body = multiget([f"/{ours.url.split('/', 3)[3]}ana.vcf"])
    answer = responses(report(ours.http, ours.url, body), texts=True)
    data = dict((tag, text) for _, tag, text in answer["ana.vcf"][1])[f"{CR}address-data"]
    assert data == CONTACTS["ana.vcf"].replace("\r\n", "\n")


FILTERS = {
    "FN contains, any case": (
        '<CR:filter><CR:prop-filter name="FN"><CR:text-match collation="i;unicode-casemap" '
        'match-type="contains">JANE</CR:text-match></CR:prop-filter></CR:filter>',
        {"jane.vcf"}),
    "EMAIL equals": (
        '<CR:filter><CR:prop-filter name="EMAIL"><CR:text-match match-type="equals">'
        "bob@example.org</CR:text-match></CR:prop-filter></CR:filter>", {"bob.vcf"}),
    "EMAIL ends-with": (
        '<CR:filter><CR:prop-filter name="EMAIL"><CR:text-match match-type="ends-with">'
        ".net</CR:text-match></CR:prop-filter></CR:filter>", {"john.vcf", "ana.vcf"}),
    "structured N contains the family name": (
        '<CR:filter><CR:prop-filter name="N"><CR:text-match match-type="contains">'
        "Doe</CR:text-match></CR:prop-filter></CR:filter>", {"jane.vcf", "bob.vcf"}),
    "N with non-ASCII": (
        '<CR:filter><CR:prop-filter name="N"><CR:text-match collation="i;unicode-casemap" '
        'match-type="contains">lópez</CR:text-match></CR:prop-filter></CR:filter>',
        {"ana.vcf"}),
    "EMAIL TYPE parameter": (
        '<CR:filter><CR:prop-filter name="EMAIL"><CR:param-filter name="TYPE">'
        '<CR:text-match match-type="equals">work</CR:text-match></CR:param-filter>'
        "</CR:prop-filter></CR:filter>", {"jane.vcf"}),
    "NICKNAME defined": (
        '<CR:filter><CR:prop-filter name="NICKNAME"/></CR:filter>', {"john.vcf"}),
    "TEL not defined": (
        '<CR:filter><CR:prop-filter name="TEL"><CR:is-not-defined/></CR:prop-filter>'
        "</CR:filter>", {"john.vcf", "bob.vcf", "ana.vcf"}),
    "negated text-match": (
        '<CR:filter><CR:prop-filter name="FN"><CR:text-match negate-condition="yes" '
        'match-type="contains">o</CR:text-match></CR:prop-filter></CR:filter>',
        {"ana.vcf"}),
    "anyof": (
        '<CR:filter test="anyof"><CR:prop-filter name="FN"><CR:text-match '
        'match-type="starts-with">Jo</CR:text-match></CR:prop-filter>'
        '<CR:prop-filter name="EMAIL"><CR:text-match match-type="equals">ana@example.net'
        "</CR:text-match></CR:prop-filter></CR:filter>", {"john.vcf", "ana.vcf"}),
    "allof": (
        '<CR:filter test="allof"><CR:prop-filter name="FN"><CR:text-match '
        'match-type="contains">Doe</CR:text-match></CR:prop-filter>'
        '<CR:prop-filter name="EMAIL"><CR:text-match match-type="ends-with">.com'
        "</CR:text-match></CR:prop-filter></CR:filter>", {"jane.vcf"}),
    "no filter": ("", set(CONTACTS)),
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_addressbook_query_answers_as_radicale(doors: tuple[Door, Door], name: str) -> None:
    filter_xml, expected = FILTERS[name]
    body = query(filter_xml, "<D:getetag/><CR:address-data/>")
    answers = [responses(report(door.http, door.url, body)) for door in doors]
    assert set(answers[0]) == expected
    assert answers[0] == answers[1]
    ours = doors[0]
    for href, (_, props) in responses(report(ours.http, ours.url, body), texts=True).items():
        assert dict((tag, text) for _, tag, text in props) == {
            f"{D}getetag": etag_of(CONTACTS[href]),
            f"{CR}address-data": CONTACTS[href].replace("\r\n", "\n")}


def test_addressbook_multiget_answers_as_radicale(doors: tuple[Door, Door]) -> None:
    answers = []
    for door in doors:
        path = door.url.split("/", 3)[3]
        hrefs = [f"/{path}jane.vcf", f"/{path}ana.vcf", f"/{path}missing.vcf"]
        answers.append(responses(report(door.http, door.url, multiget(hrefs))))
    assert set(answers[0]) == {"jane.vcf", "ana.vcf", "missing.vcf"}
    assert answers[0]["missing.vcf"][0] == "HTTP/1.1 404 Not Found"
    assert answers[0] == answers[1]


def sync(door: Door, token: str) -> requests.Response:
    return report(door.http, door.url, (
        '<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:" '
        'xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/><CR:address-data/></D:prop></D:sync-collection>"))


def token_of(answer: requests.Response) -> str:
    return ET.fromstring(answer.content).findtext("{DAV:}sync-token") or ""


def test_sync_collection_on_an_address_book_answers_as_radicale(
        doors: tuple[Door, Door]) -> None:
    initial = [sync(door, "") for door in doors]
    assert responses(initial[0]) == responses(initial[1])
    assert set(responses(initial[0])) == set(CONTACTS)
    for door in doors:
        etag = door.http.get(door.url + "jane.vcf").headers["ETag"]
        changed = CONTACTS["jane.vcf"].replace("FN:Jane Doe", "FN:Jane Q. Doe")
        assert door.put("jane.vcf", changed, **{"If-Match": etag}).status_code == 204
        assert door.http.delete(door.url + "john.vcf").status_code == 200
        assert door.put("new.vcf", CONTACTS["john.vcf"].replace("UID:john", "UID:new")
                        ).status_code == 201
    later = [sync(door, token_of(first)) for door, first in zip(doors, initial, strict=True)]
    assert responses(later[0]) == responses(later[1])
    got = responses(later[0])
    assert {href: status for href, (status, _) in got.items()} == {
        "jane.vcf": None, "new.vcf": None, "john.vcf": "HTTP/1.1 404 Not Found"}
    assert token_of(later[0]) != token_of(initial[0])
    unchanged = sync(doors[0], token_of(later[0]))
    assert responses(unchanged) == {}


def test_one_vcard_per_uid_and_only_vcards_in_an_address_book(
        doors: tuple[Door, Door]) -> None:
    event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ev\r\n"
             "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\nEND:VEVENT\r\n"
             "END:VCALENDAR\r\n")
    no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody\r\nN:;Nobody;;;\r\nEND:VCARD\r\n"
    statuses = []
    for door in doors:
        statuses.append((
            door.put("copy.vcf", CONTACTS["jane.vcf"]).status_code,  # UID taken elsewhere
            door.put("event.ics", event).status_code,
            door.put("nouid.vcf", no_uid).status_code,
        ))
        assert door.http.get(door.url + "copy.vcf").status_code == 404
        assert door.http.get(door.url + "event.ics").status_code == 404
    assert statuses[0] == statuses[1]
    assert statuses[0][0] == 409
    assert all(400 <= status < 500 for status in statuses[0])


def test_vcards_have_no_occurrence_rows_and_log_their_changes(
        server: Server, doors: tuple[Door, Door]) -> None:
    ours = doors[0]
    path = ours.url.split("/", 3)[3].strip("/")
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            cid = conn.execute(sa.select(collection.c.id, collection.c.tag)
                               .where(collection.c.path == path)).one()
            rows = conn.execute(sa.select(calendar_object.c.href, calendar_object.c.component,
                                          calendar_object.c.uid)
                                .where(calendar_object.c.collection_id == cid.id)).all()
            occurrences = conn.execute(sa.select(sa.func.count()).select_from(occurrence)
                                       .where(occurrence.c.collection_id == cid.id)).scalar()
    finally:
        engine.dispose()
    assert cid.tag == "VADDRESSBOOK"
    assert sorted(rows) == sorted((href, "VCARD", href.removesuffix(".vcf"))
                                  for href in CONTACTS)
    assert occurrences == 0


def test_a_vcard_over_the_size_limit_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", extra_env={"CALBRIDGE_STORAGE_MAX_OBJECT_BYTES": "2000"})
    srv.start()
    try:
        srv.add_user("alice")
        door = Door(srv.url, PASSWORD)
        assert door.put("jane.vcf", CONTACTS["jane.vcf"]).status_code == 201
        answer = door.put("bob.vcf", CONTACTS["bob.vcf"])  # 4 KB of photo
        assert answer.status_code in (400, 413)
        assert door.http.get(door.url + "bob.vcf").status_code == 404
        assert srv.count(calendar_object) == 1
    finally:
        srv.stop()


def test_a_whole_address_book_put_keeps_each_card_as_written(server: Server) -> None:
    http = session("alice", PASSWORD)
    url = f"{server.url}/alice/whole-{uuid.uuid4().hex[:8]}/"
    body = CONTACTS["jane.vcf"] + CONTACTS["ana.vcf"]
    answer = http.put(url, data=body.encode(), headers=VCARD_TYPE)
    assert answer.status_code == 201, answer.text
    for href in ("jane.vcf", "ana.vcf"):
        got = http.get(url + href)
        assert (got.status_code, got.content) == (200, CONTACTS[href].encode())
    kind = http.request("PROPFIND", url, headers={"Depth": "0"}, data=(
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop>'
        b"</D:propfind>"))
    resourcetype = ET.fromstring(kind.content).find(f".//{D}resourcetype")
    assert resourcetype is not None
    assert {child.tag for child in resourcetype} == {f"{D}collection", f"{CR}addressbook"}
