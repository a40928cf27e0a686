"""Radicale's Application with calbridge's seams, one small module per method (as Radicale
lays out its own): expand REPORTs and depth-1 listings answered from the index, whole-calendar
GETs with revision entity tags, PUT bodies checked against the limits, and failed logins
throttled before Radicale sees them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any

from radicale import config as radicale_config
from radicale import types

from bridge.notify.service import PushService
from bridge.service.scheduling import Scheduler
from bridge.store.access import caldav_refusal, current_policy
from bridge.store.notify import PUSH_DONT_NOTIFY
from radicale_plugin.app.delete import ApplicationPartGuardedDelete
from radicale_plugin.app.get import ApplicationPartCollectionGet
from radicale_plugin.app.invite import ApplicationPartCalendarServerSharing
from radicale_plugin.app.options import with_dav_header
from radicale_plugin.app.propfind import ApplicationPartListingPropfind
from radicale_plugin.app.props import ApplicationPartPropertyLimits
from radicale_plugin.app.push import ApplicationPartPush, dont_notify
from radicale_plugin.app.put import ApplicationPartLimitedPut
from radicale_plugin.app.report import ApplicationPartExpandReport
from radicale_plugin.app.schedule import ApplicationPartScheduling
from radicale_plugin.app.shared import ApplicationPartSharedCalendar
from radicale_plugin.implicit import SCHEDULE_REPLY
from radicale_plugin.internals import Application, check_application
from radicale_plugin.store_factory import (
    store_from_radicale_config,
    throttle_from_radicale_config,
)


def basic_username(environ: types.WSGIEnviron) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[0]


class CalbridgeApplication(ApplicationPartSharedCalendar, ApplicationPartCalendarServerSharing,
                           ApplicationPartScheduling, ApplicationPartPush,
                           ApplicationPartExpandReport,
                           ApplicationPartListingPropfind, ApplicationPartCollectionGet,
                           ApplicationPartGuardedDelete, ApplicationPartPropertyLimits,
                           ApplicationPartLimitedPut, Application):
    def __init__(self, configuration: radicale_config.Configuration,
                 pushes: PushService) -> None:
        super().__init__(configuration)
        check_application(self)  # a Radicale outside the supported range fails here, named
        self._throttle = throttle_from_radicale_config(configuration)
        self.pushes = pushes
        self.calendar_store = store_from_radicale_config(configuration)
        self.scheduler = Scheduler(self.calendar_store)

    def __call__(self, environ: types.WSGIEnviron, start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        # The policy belongs to this request only: waitress reuses threads.
        reset = current_policy.set(None)
        refusal_reset = caldav_refusal.set(None)
        dont_notify_reset = PUSH_DONT_NOTIFY.set(dont_notify(
            environ.get("HTTP_PUSH_DONT_NOTIFY")))
        reply_reset = SCHEDULE_REPLY.set(
            environ.get("HTTP_SCHEDULE_REPLY", "T").strip().upper() != "F")
        try:
            if "HTTP_AUTHORIZATION" in environ:
                keys = self._throttle.keys(environ.get("REMOTE_ADDR"), basic_username(environ))
                wait = self._throttle.retry_after(keys)
                if wait:
                    start_response("429 Too Many Requests", [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Retry-After", str(wait))])
                    return [b"Too many failed logins; retry later.\n"]
            return self._answer_refusals(environ, start_response)
        finally:
            current_policy.reset(reset)
            caldav_refusal.reset(refusal_reset)
            PUSH_DONT_NOTIFY.reset(dont_notify_reset)
            SCHEDULE_REPLY.reset(reply_reset)

    def _answer_refusals(self, environ: types.WSGIEnviron, start_response: Callable[..., Any]
                         ) -> Iterable[bytes]:
        """Radicale answers a refused login with 401, which makes clients ask for the password
        again; a valid token that CalDAV cannot honour gets 403 with the reason instead."""
        answer: list[tuple[str, list[tuple[str, str]]]] = []
        body = super().__call__(environ, lambda status, headers, *_: answer.append(
            (status, headers)))
        refusal = caldav_refusal.get()
        if refusal is not None:
            if hasattr(body, "close"):
                body.close()
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [refusal.encode() + b"\n"]
        status, headers = answer[0]
        start_response(status, with_dav_header(headers))
        return body
