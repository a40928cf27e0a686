"""Find and load Radicale's own request tests (``radicale/tests/test_base.py``).

Radicale's wheels and sdists leave ``radicale/tests`` out (only ``tests/custom`` is
installed), and calbridge does not copy Radicale's GPL test code into its tree. The suite is
found, in this order:
- ``RADICALE_TESTS`` names a Radicale source checkout (the folder holding ``radicale/``), or
  its ``radicale/tests`` folder itself;
- ``radicale.tests.test_base`` is importable from the installed package (a distribution that
  ships its tests);
- otherwise ``load_suite`` returns None and the tests that need it are skipped, naming the
  variable.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType


def suite_folder() -> Path | None:
    given = os.environ.get("RADICALE_TESTS", "")
    if given:
        path = Path(given)
        for candidate in (path, path / "radicale" / "tests"):
            if (candidate / "test_base.py").is_file():
                return candidate
        raise RuntimeError(f"RADICALE_TESTS={given} holds no radicale/tests/test_base.py")
    return None


def load_suite() -> ModuleType | None:
    """Radicale's ``test_base`` module, imported as ``radicale.tests.test_base``."""
    folder = suite_folder()
    if folder is None:
        try:
            return importlib.import_module("radicale.tests.test_base")
        except ImportError:
            return None
    import radicale

    spec = importlib.util.spec_from_file_location(
        "radicale.tests", folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["radicale.tests"] = package
    spec.loader.exec_module(package)
    radicale.tests = package  # type: ignore[attr-defined]
    return importlib.import_module("radicale.tests.test_base")
