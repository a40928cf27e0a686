"""The README's examples run as written in a fresh clone after `make run`.

The blocks fenced as ```sh run are executed in order, in one bash, against a server started
with the README's own `make run`; only the port and the data directory differ, through the
environment variables the README documents (CALBRIDGE_SERVER_PORT, CALBRIDGE_STORAGE_DATA_DIR).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, ROOT, free_port

RUN_BLOCK = re.compile(r"^```sh run\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def readme_blocks() -> list[str]:
    return RUN_BLOCK.findall((ROOT / "README.md").read_text())


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A checkout as `make run` leaves it: the repository's Makefile, pyproject.toml and
    config, and a .venv (marked installed) whose calbridge runs this checkout's code."""
    root = tmp_path / "calbridge"
    (root / ".venv" / "bin").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "config"):
        (root / name).symlink_to(ROOT / name)
    executable(root / ".venv" / "bin" / "python", f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    executable(root / ".venv" / "bin" / "calbridge",
               f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m bridge.cli "$@"\n')
    (root / ".venv" / ".installed").touch()  # newer than pyproject.toml: no reinstall
    return root


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CALBRIDGE_")},
            "CALBRIDGE_SERVER_PORT": str(free_port()),
            "CALBRIDGE_STORAGE_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def make_run(clone: Path, environment: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`make run`, as the README says, until the server answers; its URL."""
    url = f"http://127.0.0.1:{environment['CALBRIDGE_SERVER_PORT']}"
    with open(tmp_path / "make-run.log", "wb") as log:
        # its own process group: make's child, the server, is stopped with it
        process = subprocess.Popen(["make", "run"], cwd=clone, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail((tmp_path / "make-run.log").read_text())
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_the_readme_examples_run_as_written(clone: Path, environment: dict[str, str],
                                            make_run: str) -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 3  # a user, the REST API, a feed
    script = "set -euo pipefail\n" + "\n".join(blocks)
    # `user add --password-stdin` reads the password a reader would type
    result = subprocess.run(["bash", "-c", script], cwd=clone, env=environment,
                            input=PASSWORD + "\n", capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"summary": "Kickoff"' in out
    assert f"{make_run}/ics/cbf_" in out  # the feed URL, printed
    assert "BEGIN:VCALENDAR" in out and "SUMMARY:Kickoff" in out  # and what it serves
    assert "X-WR-CALNAME:Team" in out
