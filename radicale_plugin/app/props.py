"""Collection properties the store refuses (PROPPATCH, MKCALENDAR, MKCOL, whole-calendar PUT)
answered as WebDAV errors instead of Radicale's 500: the store raised inside the write
transaction, so nothing was kept. Both are 403 (a client error, never a 5xx):

- too large (one property over ``input.max_property_bytes``, or all of a collection's over
  ``input.max_properties_bytes``): ``<CB:max-property-size/>`` in calbridge's namespace (WebDAV
  has no precondition for it; RFC 4331's quota-not-exceeded comes with 507, a server error);
- refused by the check of its name (a ``C:calendar-availability`` that is not a VAVAILABILITY
  calendar the API can read): ``CALDAV:valid-calendar-data`` (RFC 7953 7.2.4).
"""

from __future__ import annotations

from collections.abc import Callable
from http import client

from radicale import types
from radicale.log import logger

from bridge.store.store import PropertyRefused
from radicale_plugin.internals import PropertyWritePart

CALBRIDGE_NS = "urn:x-calbridge"

Handler = Callable[[types.WSGIEnviron, str, str, str, set, dict], types.WSGIResponse]


class ApplicationPartPropertyLimits(PropertyWritePart):
    def _refusing(self, handler: Handler, environ: types.WSGIEnviron, base_prefix: str,
                  path: str, user: str, user_groups: set, request_info: dict
                  ) -> types.WSGIResponse:
        try:
            return handler(environ, base_prefix, path, user, user_groups, request_info)
        except PropertyRefused as exc:
            logger.info("refused properties of %r: %s", path, exc)
            precondition = f"{{{CALBRIDGE_NS}}}max-property-size" if exc.too_large \
                else "C:valid-calendar-data"
            return self.webdav_error(client.FORBIDDEN, precondition, request_info)

    def do_PROPPATCH(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                     user_groups: set, request_info: dict) -> types.WSGIResponse:
        return self._refusing(super().do_PROPPATCH, environ, base_prefix, path, user,
                              user_groups, request_info)

    def do_MKCALENDAR(self, environ: types.WSGIEnviron, base_prefix: str, path: str,
                      user: str, user_groups: set, request_info: dict) -> types.WSGIResponse:
        return self._refusing(super().do_MKCALENDAR, environ, base_prefix, path, user,
                              user_groups, request_info)

    def do_MKCOL(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                 user_groups: set, request_info: dict) -> types.WSGIResponse:
        return self._refusing(super().do_MKCOL, environ, base_prefix, path, user,
                              user_groups, request_info)

    def do_PUT(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
               user_groups: set, request_info: dict) -> types.WSGIResponse:
        return self._refusing(super().do_PUT, environ, base_prefix, path, user,
                              user_groups, request_info)
