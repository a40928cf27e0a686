"""Throughput of month REPORTs with one server process and with several (`--workers`).

One calendar of generated events is loaded into calbridge started with one process and with
``--workers N``; for each, one client and then ``--clients`` concurrent clients ask the same
month time-range REPORT for ``--seconds`` seconds, and the requests per second are printed
with the ratio of concurrent to one client (the issue asks >= 1.6x with two workers on two
cores). The clients read the answers and parse nothing, so the server's work is measured.

    python bench/workers_bench.py --events 10000 --workers 2 --clients 16 --seconds 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.caldav_bench import (  # noqa: E402
    MKCALENDAR,
    PASSWORD,
    USER,
    XML,
    CalbridgeServer,
    calendar_query,
)
from bench.generate import bench_windows, collection_text, generate  # noqa: E402


@dataclass
class WorkersServer(CalbridgeServer):
    workers: int = 1

    def command(self) -> tuple[list[str], dict[str, str]]:
        command, env = super().command()
        return [*command, "--workers", str(self.workers)], env


def run_clients(url: str, body: str, clients: int, seconds: float) -> tuple[int, list[int]]:
    """Requests answered in ``seconds`` by ``clients`` threads, and any unexpected statuses."""
    done = [0] * clients
    bad: list[int] = []
    barrier = threading.Barrier(clients)
    deadline_box: list[float] = []

    def client(number: int) -> None:
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        session.get(url.rsplit("/", 3)[0] + "/api/health", timeout=60)
        if barrier.wait() == 0:
            deadline_box.append(time.monotonic() + seconds)
        barrier.wait()
        while time.monotonic() < deadline_box[0]:
            answer = session.request("REPORT", url, data=body,
                                     headers={**XML, "Depth": "1"}, timeout=600)
            if answer.status_code != 207:
                bad.append(answer.status_code)
            done[number] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done), bad


def measure(workers: int, text: str, body: str, args: argparse.Namespace, work: Path
            ) -> tuple[float, float]:
    server = WorkersServer("calbridge", work / f"workers-{workers}", workers=workers)
    server.start()
    try:
        calendar = f"{server.url}/{USER}/bench/"
        requests.request("MKCALENDAR", calendar, data=MKCALENDAR, headers=XML,
                         auth=(USER, PASSWORD), timeout=60).raise_for_status()
        requests.put(calendar, data=text.encode(), auth=(USER, PASSWORD), timeout=3600,
                     headers={"Content-Type": "text/calendar; charset=utf-8"}
                     ).raise_for_status()
        run_clients(calendar, body, args.clients, 3)  # warm every process's caches
        rates = []
        for clients in (1, args.clients):
            count, bad = run_clients(calendar, body, clients, args.seconds)
            if bad:
                raise RuntimeError(f"unexpected statuses {sorted(set(bad))}")
            rates.append(count / args.seconds)
        return rates[0], rates[1]
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    today = dt.date.today()
    objects = generate(args.events, args.seed, today)
    text = collection_text(objects)
    body = calendar_query(bench_windows(today)[1], expand=False)
    print(f"`python bench/workers_bench.py --events {args.events} --workers {args.workers} "
          f"--clients {args.clients} --seconds {args.seconds:g}` on {today}\n")
    print(f"| processes | 1 client, req/s | {args.clients} clients, req/s | ratio |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="calbridge-workers-") as work_dir:
        for workers in sorted({1, args.workers}):
            one, many = measure(workers, text, body, args, Path(work_dir))
            print(f"| {workers} | {one:.2f} | {many:.2f} | {many / one:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
