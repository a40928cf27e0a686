"""Radicale rights plugin: ``[rights] type = radicale_plugin.rights``.

Translates the request's AccessPolicy into Radicale's permission letters; the policy decides.
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale import pathutils
from radicale import rights as radicale_rights

from radicale_plugin.access import WRITE, AccessPolicy, current_policy
from radicale_plugin.store_factory import store_from_radicale_config


class Rights(radicale_rights.BaseRights):
    def __init__(self, configuration: radicale_config.Configuration) -> None:
        super().__init__(configuration)
        self._store = store_from_radicale_config(configuration)

    def authorization(self, user: str, user_groups: set, path: str) -> str:
        policy = current_policy.get()
        if not user or policy is None or policy.user.username != user:
            return ""
        letters = policy.memo.get(path)
        if letters is None:
            letters = policy.memo[path] = self._letters(policy, user, path)
        return letters

    def _letters(self, policy: AccessPolicy, user: str, path: str) -> str:
        parts = [p for p in pathutils.strip_path(path).split("/") if p]
        if not parts:
            return "R"
        if len(parts) == 1:
            if parts[0] != user:
                return ""
            return "RW" if policy.has_scope(WRITE) else "R"
        if len(parts) > 2:
            return ""
        record = self._store.get_collection("/".join(parts))
        if record is None or not record.tag:
            # Not (yet) a calendar: only the owner may create one, with the write scope.
            return "rw" if parts[0] == user and policy.has_scope(WRITE) else ""
        rights = policy.rights(record)
        letters = "r" if rights.read else ("f" if rights.freebusy else "")
        if rights.write:
            letters += "w" if rights.delete else "wd"  # d: may not delete the calendar itself
        return letters
