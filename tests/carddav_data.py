"""vCard fixtures and CardDAV requests shared by the address book tests."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import requests

D, CR = "{DAV:}", "{urn:ietf:params:xml:ns:carddav}"
VCARD_TYPE = {"Content-Type": "text/vcard; charset=utf-8"}
# 3 KB of every byte value: a photo whose base64 folds over many lines.
PHOTO_BYTES = bytes(range(256)) * 12
PHOTO_B64 = base64.b64encode(PHOTO_BYTES).decode()
PHOTO_URI = "data:image/png;base64," + PHOTO_B64


def folded(line: str) -> str:
    """``line`` folded at 75 characters (ASCII lines), CRLF ended."""
    parts = [line[:75]] + [line[i:i + 74] for i in range(75, len(line), 74)]
    return "\r\n ".join(parts) + "\r\n"


CONTACTS = {
    "jane.vcf": ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:jane\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\n"
                 "EMAIL;TYPE=work:jane@example.com\r\nTEL;TYPE=cell:+1 555 0100\r\n"
                 "X-CUSTOM:kept as written\r\nEND:VCARD\r\n"),
    "john.vcf": ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:john\r\nFN:John Smith\r\nN:Smith;John;;;\r\n"
                 "NICKNAME:Johnny\r\nEMAIL;TYPE=home:john@example.net\r\nEND:VCARD\r\n"),
    "bob.vcf": ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bob\r\nFN:Bob Doe-Martin\r\n"
                "N:Doe-Martin;Bob;;;\r\nEMAIL:bob@example.org\r\n"
                + folded("PHOTO;ENCODING=b;TYPE=PNG:" + PHOTO_B64) + "END:VCARD\r\n"),
    "ana.vcf": ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ana\r\nFN:Ana López\r\nN:López;Ana;;;\r\n"
                "EMAIL:ana@example.net\r\n" + folded("PHOTO:" + PHOTO_URI) + "END:VCARD\r\n"),
}

MKCOL_ADDRESSBOOK = (
    '<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" '
    'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/>'
    "<CR:addressbook/></D:resourcetype><D:displayname>Contacts</D:displayname></D:prop>"
    "</D:set></D:mkcol>")


def make_addressbook(http: requests.Session, url: str) -> None:
    answer = http.request("MKCOL", url, data=MKCOL_ADDRESSBOOK.encode())
    assert answer.status_code == 201, answer.text


def query(filter_xml: str, props: str = "<D:getetag/>") -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><CR:addressbook-query xmlns:D="DAV:" '
            f'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop>{props}</D:prop>'
            f"{filter_xml}</CR:addressbook-query>")


def multiget(hrefs: list[str]) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><CR:addressbook-multiget xmlns:D="DAV:" '
            'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/>'
            "</D:prop>" + "".join(f"<D:href>{h}</D:href>" for h in hrefs)
            + "</CR:addressbook-multiget>")


def report(http: requests.Session, url: str, body: str) -> requests.Response:
    return http.request("REPORT", url, data=body.encode(),
                        headers={"Depth": "1", "Content-Type": "application/xml"})


def responses(answer: requests.Response, texts: bool = False) -> dict[str, tuple]:
    """href name -> (response status, ((propstat status, prop tag, text)...)) of a 207; the
    text of an etag or address-data only with ``texts`` (else whether there is one)."""
    assert answer.status_code == 207, answer.text
    out = {}
    for response in ET.fromstring(answer.content).findall(f"{D}response"):
        href = (response.findtext(f"{D}href") or "").rstrip("/").rsplit("/", 1)[-1]
        props = []
        for propstat in response.findall(f"{D}propstat"):
            for prop in propstat.find(f"{D}prop") or []:
                text = prop.text or ""
                if not texts and prop.tag in (f"{D}getetag", f"{CR}address-data"):
                    text = "present" if text else ""
                props.append((propstat.findtext(f"{D}status") or "", prop.tag, text))
        out[href] = (response.findtext(f"{D}status"), tuple(sorted(props)))
    return out


def content_lines(text: str) -> list[str]:
    """The unfolded content lines of a vCard, sorted (vobject reorders them)."""
    return sorted(text.replace("\r\n ", "").replace("\n ", "").replace("\r\n", "\n")
                  .strip().split("\n"))


def unfolded_value(text: str, name: str) -> str:
    """The value of the first ``name`` line of a vCard (unfolded, parameters dropped)."""
    unfolded = text.replace("\r\n ", "").replace("\n ", "")
    for line in unfolded.splitlines():
        head, _, value = line.partition(":")
        if head.split(";")[0].upper() == name:
            return value
    raise AssertionError(f"no {name} in {text}")
