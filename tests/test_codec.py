"""bridge.core.codec: the stored text split into components and joined back byte for byte."""

from __future__ import annotations

import pytest

from bridge.core import codec
from bridge.core.bundle import bundle_calendar
from bridge.core.codec import Document, content_line
from bridge.core.expand import component_blocks

TEXT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
    "BEGIN:VTIMEZONE\r\nTZID;X-SOURCE=tzdb:Europe/Berlin\r\nBEGIN:STANDARD\r\n"
    "DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "begin:vevent\r\nUID:a\r\nSUMMARY:A long\r\n  title\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
    "X-UNKNOWN;P=\"a:b\":c\r\nEND:VEVENT\r\n"
    "BEGIN:VEV\r\n ENT\r\nUID:a\r\nRECURRENCE-ID:20260101T090000Z\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@pytest.mark.parametrize("text", [TEXT, TEXT.replace("\r\n", "\n"), "", "no calendar",
                                  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:cut"])
def test_an_unedited_document_is_the_text_it_was_read_from(text: str) -> None:
    document = Document.parse(text)
    assert document.text() == text
    for block in document.blocks():
        block.items  # noqa: B018 - splitting a block into items must not change it either
    assert document.text() == text


def test_top_level_components_and_their_items() -> None:
    document = Document.parse(TEXT)
    assert [block.name for block in document.blocks()] == ["VTIMEZONE", "VEVENT", "VEVENT"]
    master, override = document.blocks("VEVENT")
    assert [item.name for item in master.items] == ["UID", "SUMMARY", None, "X-UNKNOWN"]
    assert master.items[2].raw.startswith("BEGIN:VALARM") and \
        master.items[2].raw.endswith("END:VALARM\r\n")
    assert master.first_value("SUMMARY") == "A long title"
    assert override.first_value("RECURRENCE-ID") == "20260101T090000Z"
    assert document.blocks("VTIMEZONE")[0].first_value("TZID") == "Europe/Berlin"


def test_an_edit_rewrites_only_its_own_lines() -> None:
    document = Document.parse(TEXT)
    master = document.blocks("VEVENT")[0]
    master.replace({"SUMMARY"}, [content_line("\r\n", "SUMMARY", "B")])
    master.insert([content_line("\r\n", "LOCATION", "Room")], ["SUMMARY"])
    assert document.text() == TEXT.replace("SUMMARY:A long\r\n  title\r\n",
                                           "SUMMARY:B\r\nLOCATION:Room\r\n")


def test_long_lines_fold_at_75_octets_and_never_inside_a_character() -> None:
    line = content_line("\r\n", "SUMMARY", "ä" * 80)
    assert all(len(piece.encode()) <= 75 for piece in line.split("\r\n"))
    assert line.replace("\r\n ", "").rstrip("\r\n") == "SUMMARY:" + "ä" * 80


def test_expand_and_bundle_read_the_same_components() -> None:
    blocks = component_blocks(TEXT)
    assert [block[0] for block in blocks] == ["begin:vevent", "BEGIN:VEV\r\n ENT"]
    assert "SUMMARY:A long\r\n  title" in blocks[0]
    bundled = bundle_calendar([TEXT, TEXT.replace("UID:a", "UID:b")])
    assert bundled.count("BEGIN:VTIMEZONE") == 1
    assert bundled.count("END:VEVENT") == 4
    assert "SUMMARY:A long\r\n  title\r\n" in bundled


PLAIN = TEXT.replace("begin:vevent", "BEGIN:VEVENT").replace("BEGIN:VEV\r\n ENT", "BEGIN:VEVENT")


@pytest.mark.parametrize("text", [PLAIN, PLAIN.replace("\r\n", "\n"), TEXT,
                                  PLAIN.replace("END:VCALENDAR", "BEGIN:VTODO\r\nEND:VCALENDAR"),
                                  PLAIN.replace("UID:a\r\nSUMMARY", "BEGIN:VEVENT\r\nSUMMARY"),
                                  PLAIN.replace("END:VEVENT\r\nBEGIN", "END:VEVENTS\r\nBEGIN")])
def test_the_quick_reading_of_plain_text_reads_what_the_full_one_reads(text: str) -> None:
    def shape(parts: list[str | codec.Block]) -> list[tuple[str, str]]:
        return [("", part) if isinstance(part, str) else (part.name, part.text())
                for part in parts]

    quick = codec._plain_parts(text)
    assert quick is None or shape(quick) == shape(codec._parts(text))
    assert (quick is not None) == (text in (PLAIN, PLAIN.replace("\r\n", "\n")))
