"""Every use of Radicale beyond its plugin API, in one place, checked when the adapter starts.

Decisions:
- Supported: Radicale >=3.9.0,<3.10 (pyproject pins the same range). The fast paths subclass
  Radicale's per-method application parts and call helpers that are not a plugin API
  (``radicale.app.*``, ``xmlutils``, ``httputils``, ``item.filter``) and a few underscored
  fields (``_sharing._enabled``, ``_storage``, ``_xml_response``...). Only this module names
  them; the other modules of the adapter use the names below.
- ``check_radicale()`` (when the storage, auth or application plugin is built) and
  ``check_application(app)`` (when the application is built) look up every one of them and
  fail with ``UnsupportedRadicale`` naming the missing attribute and the supported range, so
  a Radicale upgrade that renames one fails at start-up instead of on the first request.
- Plugin-API modules (``radicale.auth``, ``rights``, ``storage``, ``item.Item``, ``config``,
  ``types``, ``pathutils``, ``log``) are used directly; overriding a documented hook
  (``BaseAuth._login_ext``, ``BaseStorage._is_collision_free``...) is checked here too.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from radicale import VERSION as RADICALE_VERSION
from radicale import app as radicale_app
from radicale import auth as radicale_auth
from radicale import httputils, types, xmlutils
from radicale import item as radicale_item
from radicale import rights as radicale_rights
from radicale import storage as radicale_storage
from radicale.app import base as app_base
from radicale.app import get as app_get
from radicale.app import proppatch as app_proppatch
from radicale.app import report as app_report
from radicale.app.delete import ApplicationPartDelete
from radicale.app.get import ApplicationPartGet
from radicale.app.mkcalendar import ApplicationPartMkcalendar
from radicale.app.mkcol import ApplicationPartMkcol
from radicale.app.post import ApplicationPartPost
from radicale.app.propfind import ApplicationPartPropfind
from radicale.app.proppatch import ApplicationPartProppatch
from radicale.app.put import ApplicationPartPut
from radicale.app.report import ApplicationPartReport
from radicale.item import filter as item_filter

SUPPORTED_RADICALE = ">=3.9.0,<3.10"

Application = radicale_app.Application
Access = app_base.Access
NOT_ALLOWED = httputils.NOT_ALLOWED
BAD_REQUEST = httputils.BAD_REQUEST
RADICALE_DAV_CLASSES: str = httputils.DAV_HEADERS
NAMESPACES = xmlutils.NAMESPACES

# (owner, its name in messages, attributes) looked up by check_radicale().
_MODULE_NEEDS: tuple[tuple[object, str, tuple[str, ...]], ...] = (
    (app_base.ApplicationBase, "radicale.app.base.ApplicationBase",
     ("_xml_response", "_webdav_error_response")),
    (app_base, "radicale.app.base", ("Access",)),
    # The handlers the adapter's parts override and call through super().
    (ApplicationPartGet, "radicale.app.get.ApplicationPartGet",
     ("do_GET", "_content_disposition_attachment")),
    (ApplicationPartDelete, "radicale.app.delete.ApplicationPartDelete", ("do_DELETE",)),
    (ApplicationPartPropfind, "radicale.app.propfind.ApplicationPartPropfind",
     ("do_PROPFIND",)),
    (ApplicationPartReport, "radicale.app.report.ApplicationPartReport", ("do_REPORT",)),
    (ApplicationPartPut, "radicale.app.put.ApplicationPartPut", ("do_PUT",)),
    (ApplicationPartProppatch, "radicale.app.proppatch.ApplicationPartProppatch",
     ("do_PROPPATCH",)),
    (ApplicationPartMkcalendar, "radicale.app.mkcalendar.ApplicationPartMkcalendar",
     ("do_MKCALENDAR",)),
    (ApplicationPartMkcol, "radicale.app.mkcol.ApplicationPartMkcol", ("do_MKCOL",)),
    (ApplicationPartPost, "radicale.app.post.ApplicationPartPost", ("do_POST",)),
    (app_get, "radicale.app.get", ("propose_filename", "requests_freebusy_view")),
    (app_report, "radicale.app.report", ("xml_item_response",)),
    (app_proppatch, "radicale.app.proppatch", ("xml_proppatch",)),
    (item_filter, "radicale.item.filter", ("parse_time_range", "simplify_prefilters")),
    (httputils, "radicale.httputils",
     ("read_raw_request_body", "NOT_ALLOWED", "BAD_REQUEST", "DAV_HEADERS")),
    (xmlutils, "radicale.xmlutils", ("NAMESPACES", "make_response", "get_content_type")),
    (radicale_item, "radicale.item", ("get_etag", "find_available_uid")),
    (radicale_auth.BaseAuth, "radicale.auth.BaseAuth", ("_login_ext",)),
    (radicale_auth.AuthContext(), "radicale.auth.AuthContext", ("remote_addr",)),
    (radicale_storage.BaseStorage, "radicale.storage.BaseStorage",
     ("_is_collision_free", "_supports_unicode", "_supports_trailing_whitespace",
      "_supports_problematic_chars")),
)
# Set by ApplicationBase.__init__: looked up on the built application.
_APPLICATION_NEEDS = ("configuration", "_storage", "_rights", "_encoding", "_sharing")


class UnsupportedRadicale(RuntimeError):
    """The installed Radicale lacks something the adapter uses."""


def require(owner: object, label: str, names: Iterable[str]) -> None:
    """Raise UnsupportedRadicale naming the first of ``names`` that ``owner`` lacks."""
    for name in names:
        if not hasattr(owner, name):
            raise UnsupportedRadicale(
                f"calbridge needs {label}.{name}, which Radicale {RADICALE_VERSION} does not "
                f"have; the supported Radicale is {SUPPORTED_RADICALE}")


def check_radicale() -> None:
    for owner, label, names in _MODULE_NEEDS:
        require(owner, label, names)


def check_application(app: object) -> None:
    """The fields of a built application (and of its sharing plugin) the fast paths read."""
    check_radicale()
    require(app, "radicale.app.Application", _APPLICATION_NEEDS)
    require(getattr(app, "_sharing", None), "radicale.sharing.BaseSharing", ("_enabled",))


# -- helpers that are not a plugin API ----------------------------------------------------------

def read_raw_body(app: app_base.ApplicationBase, environ: types.WSGIEnviron) -> bytes:
    return httputils.read_raw_request_body(app.configuration, environ)


def propose_filename(collection: radicale_storage.BaseCollection) -> str:
    return app_get.propose_filename(collection, None)


def requests_freebusy_view(environ: types.WSGIEnviron) -> bool:
    return app_get.requests_freebusy_view(environ)


def item_response(base_prefix: str, href: str, found: list[ET.Element],
                  not_found: list[ET.Element]) -> ET.Element:
    return app_report.xml_item_response(base_prefix, href, found_props=found,
                                        not_found_props=not_found)


def proppatch_answer(base_prefix: str, path: str, request: ET.Element | None,
                     collection: radicale_storage.BaseCollection) -> ET.Element:
    """Radicale's PROPPATCH: the request's properties set (``collection.set_meta``) and the
    multistatus answering it."""
    return app_proppatch.xml_proppatch(base_prefix, path, request, collection)


def parse_time_range(element: ET.Element) -> tuple[datetime, datetime]:
    return item_filter.parse_time_range(element)


def simplify_prefilters(filters: Iterable[ET.Element], tag: str
                        ) -> tuple[str | None, int, int, bool]:
    return item_filter.simplify_prefilters(filters, tag)


def status_text(code: int) -> str:
    """The text of a DAV:status element ("HTTP/1.1 200 OK")."""
    return xmlutils.make_response(code)


def writable(environ: types.WSGIEnviron) -> dict[str, Any]:
    """The request's environ, to put a read body back or change a header. Radicale types it
    as a Mapping; WSGI hands every application a dict (PEP 3333)."""
    assert isinstance(environ, dict)
    return environ


def rewind_body(environ: types.WSGIEnviron, body: bytes) -> None:
    """Put a body read here back for Radicale's own handler to read again."""
    writable(environ).update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})


def content_type(item: radicale_item.Item, encoding: str) -> str:
    return xmlutils.get_content_type(item, encoding)


def etag_of(text: str) -> str:
    """Radicale's own entity tag of a text (what multifilesystem stores)."""
    return radicale_item.get_etag(text)


def find_available_uid(exists: Callable[[str], bool], suffix: str) -> str:
    return radicale_item.find_available_uid(exists, suffix)


# -- the application parts the adapter's methods extend -----------------------------------------

class AdapterPart(app_base.ApplicationBase):
    """The application's fields, as the fast paths read them."""

    @property
    def sharing_enabled(self) -> bool:
        # Radicale's own handlers read the same flag; with sharing on, they answer.
        return bool(self._sharing._enabled)

    @property
    def storage(self) -> radicale_storage.BaseStorage:
        return self._storage

    @property
    def rights(self) -> radicale_rights.BaseRights:
        return self._rights

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def max_expand_occurrence(self) -> int:
        return int(self.configuration.get("reporting", "max_expand_occurrence"))

    def xml_answer(self, element: ET.Element, request_info: dict) -> bytes:
        """Radicale's serialization of a response document (declaration, prefixes, logging)."""
        return self._xml_response(element, request_info)

    def webdav_error(self, status: int, human_tag: str, request_info: dict
                     ) -> types.WSGIResponse:
        request_info["status"] = status
        return self._webdav_error_response(status, human_tag, request_info)


class GetPart(AdapterPart, ApplicationPartGet):
    def attachment_disposition(self, filename: str) -> str:
        return self._content_disposition_attachment(filename)


class DeletePart(AdapterPart, ApplicationPartDelete):
    pass


class PropfindPart(AdapterPart, ApplicationPartPropfind):
    pass


class ReportPart(AdapterPart, ApplicationPartReport):
    pass


class PutPart(AdapterPart, ApplicationPartPut):
    pass


class PostPart(AdapterPart, ApplicationPartPost):
    pass


# In Application's own order (Mkcalendar, Mkcol, Propfind, Proppatch, Put), so the MRO holds.
class PropertyWritePart(AdapterPart, ApplicationPartMkcalendar, ApplicationPartMkcol,
                        ApplicationPartProppatch, ApplicationPartPut):
    pass
