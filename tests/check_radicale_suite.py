"""Radicale's own request tests (``TestBaseRequests`` of ``radicale/tests/test_base.py``) run
against calbridge's storage plugin (``[storage] type = radicale_plugin.storage``, a fresh
SQLite store per test), with Radicale's own application, rights and configuration.

The only failures allowed are the ones Radicale's multifilesystem storage has too in the same
run: ``EXPECTED_FAILURES`` lists them, each test of it is expected to fail on calbridge's
storage (strict: one that starts passing fails the run) and is also run on multifilesystem,
where it must fail as well. docs/radicale-suite.md records a run.

Radicale's packages leave its tests out, and calbridge does not copy them (GPL code); point
``RADICALE_TESTS`` at a Radicale source checkout and run this module by name (it is not a
``test_*.py``, so ``make test`` does not collect it): docs/radicale-suite.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.core.limits import Limits
from bridge.core.recurrence import install_step_cap
from tests.radicale_suite import load_suite

suite = load_suite()
if suite is None:  # this module runs only when asked for by name (it is no test_*.py)
    raise RuntimeError("Radicale's test suite is not installed: set RADICALE_TESTS to a "
                       "Radicale source checkout (docs/radicale-suite.md)")

Base: Any = suite.TestBaseRequests
DEFAULT_STEPS = Limits().max_recurrence_steps

# name -> why it fails, on multifilesystem as on calbridge's storage
EXPECTED_FAILURES = {
    "test_report_free_busy": "the test (Radicale's development branch) expects one VFREEBUSY "
                             "per period; Radicale 3.9.0 answers one VFREEBUSY in all",
}


class CalbridgeStorage(Base):
    """Radicale's configuration as calbridge's composition maps it (bridge/wsgi.py): the
    storage plugin, and the step cap following ``max_vevent_rrule_occurrence``."""

    storage_type = "radicale_plugin.storage"

    def configure(self, config_: dict[str, dict[str, Any]]) -> None:
        storage = dict(config_.get("storage", {}))
        if "type" not in storage:
            storage["type"] = self.storage_type
        super().configure({**config_, "storage": storage} if storage else config_)
        steps = int(self.configuration.get("server", "max_vevent_rrule_occurrence"))
        install_step_cap(max(DEFAULT_STEPS, steps))

    def teardown_method(self) -> None:
        install_step_cap(DEFAULT_STEPS)
        super().teardown_method()


def _expect_failure(name: str, reason: str) -> Any:
    test = getattr(Base, name)

    @pytest.mark.xfail(reason=reason, strict=True)
    def expected(self: Any, *args: Any, **kwargs: Any) -> None:
        test(self, *args, **kwargs)

    expected.__name__ = name
    return expected


class TestRadicaleRequestsOnCalbridgeStorage(CalbridgeStorage):
    pass


class TestTheSameFailuresOnMultifilesystem(CalbridgeStorage):
    """Only the expected failures, run on Radicale's own storage: they fail there too."""

    storage_type = "multifilesystem"


for _name in dir(Base):
    if not _name.startswith("test_"):
        continue
    if _name in EXPECTED_FAILURES:
        for _cls in (TestRadicaleRequestsOnCalbridgeStorage, TestTheSameFailuresOnMultifilesystem):
            setattr(_cls, _name, _expect_failure(_name, EXPECTED_FAILURES[_name]))
    else:
        setattr(TestTheSameFailuresOnMultifilesystem, _name, None)
