"""CalDAV PUT create, working tree against a baseline commit, many alternating requests.

The full bench times PUT create with a few reps per server; a 1.1-1.2x swing there between
runs is noise. This loads the same generated calendar into both (``calbridge import``) and
alternates hundreds of PUTs, so that two versions' per-request cost can be compared.

    python bench/put_ab.py [--events 10000] [--reps 400] [--baseline ef67ac7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.caldav_bench import (  # noqa: E402
    CALENDAR,
    PASSWORD,
    USER,
    CalbridgeServer,
    new_event_text,
    snapshot,
)
from bench.events_bench import cli  # noqa: E402
from bench.generate import collection_text, generate  # noqa: E402

WARM_UP = 10  # requests per server left out of the median


def put_create(session: requests.Session, server: CalbridgeServer, rep: int) -> float:
    uid = f"ab-{uuid.uuid4().hex}"
    start = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=rep % 50)
    started = time.perf_counter()
    response = session.put(f"{server.url}/{USER}/{CALENDAR}/{uid}.ics",
                           data=new_event_text(uid, start, "Created"),
                           headers={"Content-Type": "text/calendar; charset=utf-8",
                                    "If-None-Match": "*"})
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"{server.name}: PUT answered {response.status_code}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--baseline", default="ef67ac7")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="calbridge-put-ab-"))
    export = work / "calendar.ics"
    export.write_text(collection_text(generate(args.events, 1, dt.date.today())))
    commit = snapshot(args.baseline, work / "baseline-code")
    servers = [CalbridgeServer("working tree", work / "after"),
               CalbridgeServer(f"baseline {commit}", work / "before", cwd=work / "baseline-code")]
    try:
        sessions = []
        for server in servers:
            server.start()
            cli(server, "import", f"/{USER}/{CALENDAR}/", str(export), "--json")
            session = requests.Session()
            session.auth = (USER, PASSWORD)
            sessions.append(session)
        samples: list[list[float]] = [[], []]
        for rep in range(args.reps):
            order = [0, 1] if rep % 2 == 0 else [1, 0]
            for i in order:
                samples[i].append(put_create(sessions[i], servers[i], rep))
        medians = [statistics.median(s[WARM_UP:]) * 1000 for s in samples]
        for server, median in zip(servers, medians, strict=True):
            print(f"{server.name}: PUT create median {median:.2f} ms over {args.reps} requests")
        print(f"after / before: {medians[0] / medians[1]:.2f}x at {args.events:,} events")
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
