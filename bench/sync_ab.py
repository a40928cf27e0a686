"""Incremental sync-collection after one change: this tree against a checkout of another commit,
requests alternating between the two servers (so load on the machine hits both alike).

    git worktree add /tmp/old e33fad3 && python bench/sync_ab.py /tmp/old
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import free_port  # noqa: E402

PASSWORD = "secret-pass-123"
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\nDURATION:PT1H\r\n"
         "SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def start(root: str, data: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "CALBRIDGE_STORAGE_DATA_DIR": data, "CALBRIDGE_SERVER_PORT": str(port),
           "CALBRIDGE_CONFIG": ""}
    subprocess.run([sys.executable, "-m", "bridge.cli", "user", "add", "alice", "--email",
                    "alice@example.com", "--password-stdin"], input=PASSWORD + "\n", text=True,
                   cwd=root, env=env, check=True, capture_output=True)
    process = subprocess.Popen([sys.executable, "-m", "bridge.cli", "serve"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url + "/api/health", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return process, url


def sync_body(token: str) -> str:
    return ('<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>'
            f"{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/>"
            "</D:prop></D:sync-collection>")


def main(baseline_root: str, events: int = 200, reps: int = 150) -> None:
    work = tempfile.mkdtemp()
    servers = {name: start(root, f"{work}/{name}")
               for name, root in (("after", str(ROOT)), ("before", baseline_root))}
    session = requests.Session()
    session.auth = ("alice", PASSWORD)
    state: dict[str, list[str]] = {}
    for name, (_, url) in servers.items():
        calendar = f"{url}/alice/cal/"
        session.request("MKCALENDAR", calendar).raise_for_status()
        for n in range(events):
            session.put(f"{calendar}e{n}.ics",
                        data=EVENT.format(uid=f"e{n}", summary=n)).raise_for_status()
        answer = session.request("REPORT", calendar, data=sync_body(""), headers={"Depth": "1"})
        state[name] = [calendar, ET.fromstring(answer.content).findtext("{DAV:}sync-token") or ""]
    times: dict[str, list[float]] = {"after": [], "before": []}
    for rep in range(reps):
        for name in ("after", "before") if rep % 2 else ("before", "after"):
            calendar, token = state[name]
            session.put(f"{calendar}e{rep % events}.ics", data=EVENT.format(
                uid=f"e{rep % events}", summary=f"v{rep}")).raise_for_status()
            began = time.perf_counter()
            answer = session.request("REPORT", calendar, data=sync_body(token),
                                     headers={"Depth": "1"})
            times[name].append(time.perf_counter() - began)
            assert answer.status_code == 207 and answer.text.count("<response>") == 1
            state[name][1] = ET.fromstring(answer.content).findtext("{DAV:}sync-token") or ""
    for process, _ in servers.values():
        process.terminate()
    after, before = (statistics.median(times[n]) * 1000 for n in ("after", "before"))
    print(f"sync-collection after 1 change, {events}-event calendar, {reps} alternating reps: "
          f"after {after:.2f} ms, before {before:.2f} ms, after/before {after / before:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1])
