"""The adapter's use of Radicale internals: one module, checked at start-up; and the listing's
multistatus writer writes what Radicale's own serialization writes."""

from __future__ import annotations

import ast
import io
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
import radicale
from radicale.app import get as radicale_get

from bridge.config import load_settings
from bridge.notify.service import PushService, PushSettings
from bridge.wsgi import open_configured_store, radicale_configuration
from radicale_plugin import internals
from radicale_plugin.app import CalbridgeApplication
from radicale_plugin.app.multistatus import MultistatusWriter

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "radicale_plugin"
# Radicale modules beyond the plugin API: only internals.py imports them.
INTERNAL_MODULES = re.compile(r"^radicale\.(app|xmlutils|httputils|item\.filter|sharing)\b")


def built_application(tmp_path: Path) -> CalbridgeApplication:
    settings = load_settings(environ={"CALBRIDGE_STORAGE_DATA_DIR": str(tmp_path),
                                      "CALBRIDGE_CONFIG": ""})
    pushes = PushService(open_configured_store(settings), PushSettings.from_settings(settings))
    return CalbridgeApplication(radicale_configuration(settings), pushes)


def test_the_installed_radicale_has_all_the_adapter_uses(tmp_path: Path) -> None:
    app = built_application(tmp_path)  # the constructor runs the check
    internals.check_application(app)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("radicale")]
    assert pins == ["radicale" + internals.SUPPORTED_RADICALE]
    assert radicale.VERSION.startswith("3.9.")


def test_a_missing_application_field_is_named_with_the_supported_range(tmp_path: Path) -> None:
    app = built_application(tmp_path)
    fields = {name: getattr(app, name) for name in
              ("configuration", "_storage", "_rights", "_encoding")}
    with pytest.raises(internals.UnsupportedRadicale) as raised:
        internals.check_application(SimpleNamespace(**fields))  # no _sharing
    assert "radicale.app.Application._sharing" in str(raised.value)
    assert internals.SUPPORTED_RADICALE in str(raised.value)
    with pytest.raises(internals.UnsupportedRadicale, match=r"BaseSharing\._enabled"):
        internals.check_application(SimpleNamespace(**fields, _sharing=SimpleNamespace()))


def test_a_missing_radicale_function_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(radicale_get, "requests_freebusy_view")
    with pytest.raises(internals.UnsupportedRadicale,
                       match=r"radicale\.app\.get\.requests_freebusy_view.*>=3\.9\.0,<3\.10"):
        internals.check_radicale()


def _private_uses(tree: ast.Module) -> list[str]:
    """Underscored attributes read on anything but self, or on self without this module
    defining them (then they are Radicale's)."""
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    defined |= {t.attr for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(t, ast.Attribute)}
    defined |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                not node.attr.startswith("__"):
            owner = node.value.id if isinstance(node.value, ast.Name) else "?"
            if owner != "self" or node.attr not in defined:
                found.append(f"{owner}.{node.attr} (line {node.lineno})")
    return found


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for p in PLUGIN.rglob("*.py")
                                        if p.name != "internals.py"), ids=str)
def test_only_internals_reaches_into_radicale(path: Path) -> None:
    tree = ast.parse((ROOT / path).read_text())
    imports = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imports += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imports += [f"{n.module}.{a.name}" for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module == "radicale" for a in n.names]
    assert [m for m in imports if INTERNAL_MODULES.match(m)] == []
    assert _private_uses(tree) == []


def radicale_bytes(root: ET.Element) -> bytes:
    """What Radicale's _xml_response writes for ``root``."""
    out = io.BytesIO()
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return out.getvalue()


def test_the_writer_writes_radicales_bytes() -> None:
    root = ET.Element("{DAV:}multistatus")
    own = ET.SubElement(root, "{DAV:}response")
    ET.SubElement(own, "{DAV:}href").text = "/alice/work%20&%20play/"
    propstat = ET.SubElement(own, "{DAV:}propstat")
    prop = ET.SubElement(propstat, "{DAV:}prop")
    ET.SubElement(prop, "{http://calendarserver.org/ns/}getctag").text = '"a<b>"'
    ET.SubElement(prop, "{urn:x-unknown}thing", {"{urn:x-other}kind": 'a "q"\n'})
    ET.SubElement(ET.SubElement(prop, "{DAV:}resourcetype"),
                  "{urn:ietf:params:xml:ns:caldav}calendar")
    ET.SubElement(propstat, "{DAV:}status").text = "HTTP/1.1 200 OK"
    member = ET.SubElement(root, "{DAV:}response")
    ET.SubElement(member, "{DAV:}href").text = "/alice/work/a%26b.ics"
    member_stat = ET.SubElement(member, "{DAV:}propstat")
    member_prop = ET.SubElement(member_stat, "{DAV:}prop")
    ET.SubElement(member_prop, "{DAV:}getetag").text = '"e&1"'
    ET.SubElement(member_prop, "{DAV:}resourcetype")
    ET.SubElement(member_stat, "{DAV:}status").text = "HTTP/1.1 200 OK"

    writer = MultistatusWriter("utf-8")
    writer.element(ET.fromstring(radicale_bytes(root))[0])  # as parsed from Radicale's answer
    writer.listing_responses(["{DAV:}getetag", "{DAV:}resourcetype"], "/alice/work/",
                             [("a&b.ics", '"e&1"', 0, "VEVENT")], "utf-8")
    assert writer.to_bytes() == radicale_bytes(root)
