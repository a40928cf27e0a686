"""PUT of calendar data checked against the store's limits before Radicale parses it; vCards
kept as the client wrote them.

RFC 4791 5.3.2.1 preconditions: a time outside C:min-date-time / C:max-date-time, a finite
rule with more instances than C:max-instances (or too costly to walk), or a rule that can
never yield an instance get 403 with the precondition element. Checking first also spares
Radicale's own preparation (vobject walks every instance of a finite rule) on such bodies.

The vCards of a PUT body (UTF-8) are handed to the storage as written (``put_vcards``):
Radicale still parses and checks them, but the store keeps the client's bytes, because
vobject's re-serialization loses data (a vCard 4 PHOTO data URI is cut at its comma).
"""

from __future__ import annotations

from http import client

import icalendar
from icalendar.error import InvalidCalendar
from radicale import types
from radicale.log import logger

from bridge.core.limits import InvalidObject, LimitExceeded, check_dates
from bridge.core.recurrence import check_rules
from bridge.core.vcard import cards_by_uid, is_vcard
from radicale_plugin.internals import PutPart, read_raw_body, rewind_body
from radicale_plugin.storage import Storage, put_vcards


def limit_refusal(body: bytes, max_instances: int) -> tuple[str, str] | None:
    """(precondition, reason) when the body is calendar data that breaks a limit; None when it
    keeps within them or is no calendar data this check can read (Radicale decides then)."""
    text = body.decode("utf-8", "replace")
    if "BEGIN:VCALENDAR" not in text.upper():
        return None
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception:  # icalendar raises ValueError, KeyError, IndexError...: Radicale decides
        return None
    try:
        check_dates(cal)
        check_rules(cal, max_instances)
    except LimitExceeded as exc:
        return exc.precondition, str(exc)
    except InvalidObject as exc:  # a rule that cannot be read, or never matches
        return "C:valid-calendar-data", str(exc)
    except InvalidCalendar:  # a property icalendar keeps as broken: Radicale decides
        return None
    return None


class ApplicationPartLimitedPut(PutPart):
    def do_PUT(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
               user_groups: set, request_info: dict) -> types.WSGIResponse:
        storage = self.storage
        # Checked for every authenticated PUT, before rights: the answer says only that the
        # body breaks a limit, and the store relies on this seam for CalDAV writes.
        if isinstance(storage, Storage):
            body = read_raw_body(self, environ)
            rewind_body(environ, body)
            refusal = limit_refusal(body, storage.store.limits.max_instances)
            if refusal is not None:
                precondition, reason = refusal
                logger.info("PUT %r refused (%s): %s", path, precondition, reason)
                return self.webdav_error(client.FORBIDDEN, precondition, request_info)
            reset = put_vcards.set(written_vcards(body))
            try:
                return super().do_PUT(environ, base_prefix, path, user, user_groups,
                                      request_info)
            finally:
                put_vcards.reset(reset)
        return super().do_PUT(environ, base_prefix, path, user, user_groups, request_info)


def written_vcards(body: bytes) -> dict[str, str] | None:
    """UID -> text of the vCards of a UTF-8 body as written; None for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None  # another charset: Radicale decodes it, its text is stored
    return cards_by_uid(text) if is_vcard(text) else None
