"""vdirsyncer (a real sync client, as a subprocess) syncing an address book both ways."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.carddav_data import (
    CONTACTS,
    PHOTO_URI,
    VCARD_TYPE,
    make_addressbook,
    query,
    report,
    responses,
    unfolded_value,
)
from tests.conftest import PASSWORD, Server

VDIRSYNCER = Path(sys.executable).parent / "vdirsyncer"
WRITE_WORDS = re.compile(r"\b(Copying|Updating|Deleting|Uploading)\b", re.IGNORECASE)


def card(uid: str, name: str) -> str:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n"
            "END:VCARD\r\n")


def fn_of(text: str) -> str:
    found = re.search(r"^FN:(.*?)\r?$", text, re.MULTILINE)
    assert found, text
    return found.group(1)


@dataclass
class Setup:
    http: requests.Session
    url: str
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

    def remote(self) -> dict[str, str]:
        """href name -> FN of every card on the server (one addressbook-query)."""
        answer = report(self.http, self.url, query("", "<D:getetag/>"))
        return {href: fn_of(self.http.get(self.url + href).text) for href in responses(answer)}

    def remote_by_uid(self) -> dict[str, str]:
        return {unfolded_value(self.http.get(self.url + h).text, "UID"): fn
                for h, fn in self.remote().items()}

    def local(self) -> dict[str, str]:
        """UID -> FN of every .vcf file of the local vdir."""
        out = {}
        for path in sorted(self.local_dir.glob("*.vcf")):
            text = path.read_text()
            uid = re.search(r"^UID:(.*?)\r?$", text, re.MULTILINE)
            assert uid, text
            out[uid.group(1)] = fn_of(text)
        return out


@pytest.fixture
def setup(server: Server, tmp_path: Path) -> Setup:
    http = requests.Session()
    http.auth = ("alice", PASSWORD)
    url = f"{server.url}/alice/vds-book-{uuid.uuid4().hex[:8]}/"
    make_addressbook(http, url)
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(f"""
[general]
status_path = "{tmp_path / 'status'}/"

[pair contacts]
a = "local"
b = "remote"
collections = null

[storage local]
type = "filesystem"
path = "{local_dir}/"
fileext = ".vcf"

[storage remote]
type = "carddav"
url = "{url}"
username = "alice"
password = "{PASSWORD}"
""")
    return Setup(http, url, local_dir, config)


def test_vdirsyncer_syncs_an_address_book_both_ways_and_converges(setup: Setup) -> None:
    http = setup.http
    for uid in ("server-1", "server-2"):
        assert http.put(f"{setup.url}{uid}.vcf", headers=VCARD_TYPE,
                        data=card(uid, f"{uid} v1").encode()).status_code == 201
    assert http.put(f"{setup.url}ana.vcf", headers=VCARD_TYPE,
                    data=CONTACTS["ana.vcf"].encode()).status_code == 201
    for uid in ("local-1", "local-2"):
        (setup.local_dir / f"{uid}.vcf").write_text(card(uid, f"{uid} v1"))

    setup.vdirsyncer("discover")
    setup.vdirsyncer("sync")
    everything = {uid: f"{uid} v1" for uid in ("server-1", "server-2", "local-1", "local-2")}
    everything["ana"] = "Ana López"
    assert setup.remote_by_uid() == everything
    assert setup.local() == everything
    # the photo reached the local copy whole (vdirsyncer writes LF line endings)
    local_ana = next(p for p in setup.local_dir.glob("*.vcf") if "UID:ana" in p.read_text())
    assert local_ana.read_bytes() == CONTACTS["ana.vcf"].replace("\r\n", "\n").encode()
    assert unfolded_value(local_ana.read_text(), "PHOTO") == PHOTO_URI

    # Each side edits a card the other made and deletes one of its own.
    local_copy = next(p for p in setup.local_dir.glob("*.vcf")
                      if "UID:server-1" in p.read_text())
    tmp = local_copy.with_suffix(".tmp")
    tmp.write_text(local_copy.read_text().replace("FN:server-1 v1", "FN:server-1 edited"))
    os.replace(tmp, local_copy)
    (setup.local_dir / "local-2.vcf").unlink()
    remote_local_1 = next(h for h, fn in setup.remote().items() if fn == "local-1 v1")
    current = http.get(setup.url + remote_local_1)
    assert http.put(setup.url + remote_local_1, data=current.text.replace(
        "FN:local-1 v1", "FN:local-1 edited").encode(),
        headers={**VCARD_TYPE, "If-Match": current.headers["ETag"]}).status_code == 204
    assert http.delete(f"{setup.url}server-2.vcf").status_code == 200

    setup.vdirsyncer("sync")
    expected = {"server-1": "server-1 edited", "local-1": "local-1 edited", "ana": "Ana López"}
    assert setup.remote_by_uid() == expected
    assert setup.local() == expected
    output = setup.vdirsyncer("sync")
    assert not WRITE_WORDS.search(output), output
