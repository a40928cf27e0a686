"""The command line fails with one clear line and a non-zero exit code, and changes nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests import caldav_data as data
from tests.conftest import ROOT, Server


def assert_one_clear_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_import_for_a_user_who_does_not_exist_fails_and_creates_nothing(
        own_server: Server, tmp_path: Path) -> None:
    source = tmp_path / "export.ics"
    source.write_text(data.single_event("imp-nobody", "20261201T100000Z", "20261201T110000Z"))
    before = sorted(own_server.stored_cells())
    result = own_server.cli("import", "/nobody/work/", str(source))
    assert_one_clear_line(result, "nobody")
    assert sorted(own_server.stored_cells()) == before


def test_import_of_a_missing_file_says_so_in_one_line(own_server: Server, tmp_path: Path
                                                      ) -> None:
    missing = tmp_path / "missing.ics"
    before = sorted(own_server.stored_cells())
    assert_one_clear_line(own_server.cli("import", "/alice/work/", str(missing)),
                          str(missing), "No such file")
    assert sorted(own_server.stored_cells()) == before


def test_serve_on_a_taken_port_exits_with_one_clear_line(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.port))
        taken.listen()
        result = subprocess.run([sys.executable, "-m", "bridge.cli", "serve"], cwd=ROOT,
                                env=server.env, capture_output=True, text=True, timeout=120,
                                check=False)
    assert_one_clear_line(result, f"127.0.0.1:{server.port}", "in use")
    assert "serving on" not in result.stdout


def test_a_missing_config_file_says_so_in_one_line(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    missing = tmp_path / "nowhere.toml"
    assert_one_clear_line(server.cli("--config", str(missing), "outbox", "list"), str(missing))
