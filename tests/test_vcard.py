"""The core's reading of vCard text and the store's preparation of it (pure, no server)."""

from __future__ import annotations

import pytest

from bridge.core.index import TIMESTAMP_MAX, TIMESTAMP_MIN, InvalidObject
from bridge.core.vcard import cards_by_uid, is_vcard, parse_vcard
from bridge.store.objects import prepare_object
from bridge.store.records import StoreSettings
from radicale_plugin.internals import etag_of
from tests.carddav_data import CONTACTS


def test_a_vcard_is_read_for_its_uid_and_version_without_changing_it() -> None:
    card = parse_vcard(CONTACTS["ana.vcf"])
    assert (card.uid, card.version) == ("ana", "4.0")
    grouped = "BEGIN:VCARD\nVERSION:3.0\nitem1.UID:g\nitem1.X-ABLABEL:x\nEND:VCARD\n"
    assert parse_vcard(grouped).uid == "g"
    folded_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:urn:uuid:12\r\n 34\r\nEND:VCARD\r\n"
    assert parse_vcard(folded_uid).uid == "urn:uuid:1234"


@pytest.mark.parametrize(("text", "reason"), [
    ("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "the object must be one VCARD"),
    ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n", "one non-empty UID"),
    ("BEGIN:VCARD\r\nUID:\r\nEND:VCARD\r\n", "one non-empty UID"),
    ("BEGIN:VCARD\r\nUID:a\r\nUID:b\r\nEND:VCARD\r\n", "one non-empty UID"),
    ("BEGIN:VCARD\r\nUID:a\r\nEND:VCARD\r\nBEGIN:VCARD\r\nUID:b\r\nEND:VCARD\r\n",
     "one vCard per object, got 2"),
    ("BEGIN:VCARD\r\nUID:a\r\n", "the vCard has no END:VCARD"),
    ("BEGIN:VCARD\r\nUID:a\r\nEND:VCARD\r\nNOTE:after\r\n", "content outside"),
    ("BEGIN:VCARD\r\nUID:a\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCARD\r\n",
     "unexpected BEGIN:VEVENT"),
    ("BEGIN:VCARD\r\nUID:" + "u" * 1025 + "\r\nEND:VCARD\r\n", "longer than 1024"),
])
def test_what_is_not_one_vcard_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidObject, match=reason):
        parse_vcard(text)


def test_a_body_splits_into_its_cards_as_written() -> None:
    body = CONTACTS["jane.vcf"] + CONTACTS["john.vcf"].replace("\r\n", "\n")
    assert cards_by_uid(body) == {"jane": CONTACTS["jane.vcf"],
                                  "john": CONTACTS["john.vcf"].replace("\r\n", "\n")}
    twice = CONTACTS["jane.vcf"] * 2 + CONTACTS["bob.vcf"]
    assert cards_by_uid(twice) == {"bob": CONTACTS["bob.vcf"]}  # an ambiguous UID: neither
    assert is_vcard("\ufeff\r\nbegin:vcard\r\n") is True
    assert is_vcard("BEGIN:VCALENDAR\r\n") is False


def test_the_store_prepares_a_vcard_without_time_or_occurrences() -> None:
    prepared = prepare_object(StoreSettings(), CONTACTS["bob.vcf"])
    assert prepared.text == CONTACTS["bob.vcf"]
    assert prepared.etag == etag_of(CONTACTS["bob.vcf"])
    index = prepared.index
    assert (index.uid, index.component, index.start_ts, index.end_ts) == \
        ("bob", "VCARD", TIMESTAMP_MIN, TIMESTAMP_MAX)
    assert (index.occurrences, index.reindex_at) == ([], TIMESTAMP_MAX)
    with pytest.raises(InvalidObject, match="larger than 100 bytes"):
        prepare_object(StoreSettings(max_object_bytes=100), CONTACTS["bob.vcf"])
