"""vdirsyncer (a real sync client, as a subprocess) against the real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.caldav_data import all_objects
from tests.caldav_data import summary_event as event_text
from tests.conftest import PASSWORD, Server

VDIRSYNCER = Path(sys.executable).parent / "vdirsyncer"
DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
# vdirsyncer reports every write it makes with one of these words (INFO level, the default).
WRITE_WORDS = re.compile(r"\b(Copying|Updating|Deleting|Uploading)\b", re.IGNORECASE)


def field(text: str, name: str) -> str:
    found = re.search(rf"^{name}:(.*?)\r?$", text, re.MULTILINE)
    assert found, text
    return found.group(1)


@dataclass
class Setup:
    server: Server
    http: requests.Session
    calendar_url: str
    local_dir: Path
    config: Path

    def vdirsyncer(self, *args: str) -> str:
        result = subprocess.run([str(VDIRSYNCER), "-c", str(self.config), *args],
                                input="y\n" * 10, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "error" not in output.lower(), output
        return output

    def remote(self) -> dict[str, tuple[str, str]]:
        """UID -> (SUMMARY, etag) of every object on the server (one calendar-query)."""
        return {field(data, "UID"): (field(data, "SUMMARY"), etag)
                for _, etag, data in all_objects(self.http, self.calendar_url)}

    def local(self) -> dict[str, tuple[str, str]]:
        """UID -> (SUMMARY, file name) of every .ics file of the local vdir."""
        out = {}
        for path in sorted(self.local_dir.glob("*.ics")):
            text = path.read_text()
            out[field(text, "UID")] = (field(text, "SUMMARY"), path.name)
        return out

    def local_file(self, uid: str) -> Path:
        return self.local_dir / self.local()[uid][1]

    def remote_url(self, uid: str) -> str:
        response = self.http.request("REPORT", self.calendar_url, headers={"Depth": "1"}, data=(
            '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
            '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:prop-filter name="UID"><C:text-match collation="i;octet">{uid}</C:text-match>'
            '</C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'))
        assert response.status_code == 207, response.text
        hrefs = [n.text or "" for n in ET.fromstring(response.content).iter(f"{DAV}href")]
        assert len(hrefs) == 1, hrefs
        return self.server.url + hrefs[0]

    def snapshot(self) -> tuple[object, ...]:
        files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in self.local_dir.iterdir()}
        ctag = self.http.request("PROPFIND", self.calendar_url, headers={"Depth": "0"}, data=(
            '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/>'
            '</D:prop></D:propfind>')).text
        return self.remote(), files, ctag


@pytest.fixture
def setup(server: Server, tmp_path: Path) -> Setup:
    http = requests.Session()
    http.auth = ("alice", PASSWORD)
    calendar_url = f"{server.url}/alice/vds-{uuid.uuid4().hex[:8]}/"
    assert http.request("MKCALENDAR", calendar_url).status_code == 201
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(f"""
[general]
status_path = "{tmp_path / 'status'}/"

[pair cal]
a = "local"
b = "remote"
collections = null

[storage local]
type = "filesystem"
path = "{local_dir}/"
fileext = ".ics"

[storage remote]
type = "caldav"
url = "{calendar_url}"
username = "alice"
password = "{PASSWORD}"
""")
    return Setup(server, http, calendar_url, local_dir, config)


def write_atomically(path: Path, text: str) -> None:
    """As an editor would: a new file renamed over the old one (new inode, new mtime)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_vdirsyncer_syncs_both_ways_and_converges(setup: Setup) -> None:
    http = setup.http
    for uid in ("server-1", "server-2"):
        response = http.put(f"{setup.calendar_url}{uid}.ics", headers=ICS,
                            data=event_text(uid, f"{uid} v1"))
        assert response.status_code == 201
    for uid in ("local-1", "local-2"):
        (setup.local_dir / f"{uid}.ics").write_text(event_text(uid, f"{uid} v1"))

    setup.vdirsyncer("discover")
    setup.vdirsyncer("sync")
    everything = {uid: f"{uid} v1" for uid in ("server-1", "server-2", "local-1", "local-2")}
    assert {uid: s for uid, (s, _) in setup.remote().items()} == everything
    assert {uid: s for uid, (s, _) in setup.local().items()} == everything

    # Each side modifies an object the other side created, and deletes one of its own.
    local_copy = setup.local_file("server-1")
    write_atomically(local_copy, local_copy.read_text().replace(
        "SUMMARY:server-1 v1", "SUMMARY:server-1 edited locally"))
    setup.local_file("local-2").unlink()
    url = setup.remote_url("local-1")
    current = http.get(url)
    response = http.put(url, headers={**ICS, "If-Match": current.headers["ETag"]},
                        data=current.text.replace("SUMMARY:local-1 v1",
                                                  "SUMMARY:local-1 edited on the server"))
    assert response.status_code == 204
    assert http.delete(setup.remote_url("server-2")).status_code in (200, 204)

    setup.vdirsyncer("sync")
    expected = {"server-1": "server-1 edited locally", "local-1": "local-1 edited on the server"}
    assert {uid: s for uid, (s, _) in setup.remote().items()} == expected
    assert {uid: s for uid, (s, _) in setup.local().items()} == expected
    assert sorted(p.name for p in setup.local_dir.iterdir()) == sorted(
        name for _, name in setup.local().values())

    before = setup.snapshot()
    output = setup.vdirsyncer("sync")
    assert not WRITE_WORDS.search(output), output
    assert setup.snapshot() == before
