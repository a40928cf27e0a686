"""DELETE: the token's allowed operations decide before Radicale deletes anything.

Radicale asks the rights plugin for "w" on the parent calendar, the same letter a PUT needs, so
a token allowed to edit but not to delete events is told apart here. The root is never deleted
(there is nothing above it to hold it; Radicale's storage contract has no answer for it).
"""

from __future__ import annotations

from radicale import pathutils, types

from bridge.core.operations import DELETE
from bridge.store.access import current_policy
from radicale_plugin.internals import NOT_ALLOWED, DeletePart


class ApplicationPartGuardedDelete(DeletePart):
    def do_DELETE(self, environ: types.WSGIEnviron, base_prefix: str, path: str, user: str,
                  user_groups: set, request_info: dict) -> types.WSGIResponse:
        parts = [p for p in pathutils.strip_path(path).split("/") if p]
        if not parts:
            return NOT_ALLOWED
        policy = current_policy.get()
        if len(parts) > 2 and policy is not None and not policy.may_operate(DELETE):
            return NOT_ALLOWED
        return super().do_DELETE(environ, base_prefix, path, user, user_groups, request_info)
