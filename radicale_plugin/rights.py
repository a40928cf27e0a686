"""Radicale rights plugin: ``[rights] type = radicale_plugin.rights``.

Translates the request's AccessPolicy into Radicale's permission letters; the policy decides.
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale import pathutils
from radicale import rights as radicale_rights

from bridge.store.access import AccessPolicy, current_policy
from bridge.store.shares import alias_calendar_id, is_alias_name
from bridge.store.store import CollectionRecord
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
        """Radicale's letters: R/W on the root and homes (untagged collections), r/w on
        calendars and their objects, f free/busy; "d" forbids deleting a calendar, "D" an
        untagged collection, "o" a whole-calendar PUT (which replaces every object)."""
        parts = [p for p in pathutils.strip_path(path).split("/") if p]
        if not parts:
            return "R"  # discovery only: the root is never written nor deleted
        if len(parts) == 1:
            if parts[0] != user:
                return ""
            # A home holds the calendars of every workspace of its user: a token may not write
            # or delete it, and nobody deletes it over CalDAV (users are managed by the CLI).
            return "RWD" if policy.token is None else "RD"
        if len(parts) > 2:
            return ""
        record = self._store.get_collection("/".join(parts))
        if record is None and is_alias_name(parts[1]):
            # A calendar shared with the home's user: theirs alone to reach by this path.
            shared = self._shared(policy, user, parts)
            return "" if shared is None else self._calendar_letters(policy, shared, alias=True)
        if record is None or not record.tag:
            # Not (yet) a calendar: its owner may create one where writes are allowed; a
            # token's calendar goes to the token's workspace (Storage.create_collection).
            return "rwD" if parts[0] == user and policy.may_create_calendars else "D"
        return self._calendar_letters(policy, record, alias=False)

    def _shared(self, policy: AccessPolicy, user: str, parts: list[str]
                ) -> CollectionRecord | None:
        calendar_id = alias_calendar_id(parts[1])
        if parts[0] != user or calendar_id is None:
            return None
        record = self._store.get_collection_by_id(calendar_id)
        return record if record is not None and policy.grant(record) is not None else None

    @staticmethod
    def _calendar_letters(policy: AccessPolicy, record: CollectionRecord, alias: bool) -> str:
        rights = policy.rights(record)
        letters = "r" if rights.read else ("f" if rights.freebusy else "")
        if rights.write:
            # d: may not delete the calendar itself (a recipient's DELETE of their alias is
            # answered before Radicale: it hides the alias, app/sharing.py).
            letters += "w" if rights.delete and not alias else "wd"
            if not (rights.delete and policy.all_operations) or alias:
                letters += "o"  # a whole-calendar PUT deletes and creates every object
        return letters
