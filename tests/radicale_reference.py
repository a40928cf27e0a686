"""Radicale's own answers, for tests that hold calbridge's equal to them (tests may import
Radicale; the store and the core may not)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from radicale import item as radicale_item

from tests.conftest import free_port


def radicale_envelope(text: str) -> tuple[int, int]:
    """Radicale's ``Item.time_range`` of one object (vobject's parse)."""
    return radicale_item.Item(collection_path="", text=text).time_range


class PlainRadicale:
    """A plain Radicale 3.9 server (multifilesystem storage, ``auth`` as given) on a free
    loopback port, for tests that hold calbridge's answers equal to Radicale's own."""

    def __init__(self, folder: Path, auth: str = "[auth]\ntype = none\n",
                 extra: str = "") -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.collections = folder / "collections"
        self.config = folder / "radicale.conf"
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n{auth}"
            "[rights]\ntype = owner_only\n[storage]\ntype = multifilesystem\n"
            f"filesystem_folder = {self.collections}\n[web]\ntype = none\n"
            f"[logging]\nlevel = warning\n{extra}")
        self.process: subprocess.Popen | None = None

    def start(self) -> PlainRadicale:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(400):
            try:
                requests.options(self.url, timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("Radicale did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def plain_radicale(folder: Path, **kwargs: str) -> Iterator[PlainRadicale]:
    server = PlainRadicale(folder, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
