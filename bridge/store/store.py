"""The calbridge store: the one write path for CalDAV and REST.

Every mutation runs in one transaction that validates the object, writes its text, rewrites
its index rows, bumps the collection revision and appends to the change log. Reads return
plain records built from columns; nothing is parsed to answer a question the index decides.

Decisions:
- ``CalendarStore`` is a thin composition of the repositories (``collections``, ``objects``,
  ``sync``) over one ``Database``; its method names are the ones the adapter, the API and the
  services call. New code may take a repository (or just the ``Database``) instead.
- It is built once from explicit ``StoreSettings``; nothing changes them afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager

import icalendar
from sqlalchemy.engine import Connection, Engine

from bridge.core.index import InvalidObject, object_uid_and_component, parse_object
from bridge.core.limits import Limits
from bridge.core.times import now_ts
from bridge.store.collections import Collections
from bridge.store.engine import Database
from bridge.store.objects import Objects, Snapshot, WindowMatch
from bridge.store.records import (
    SYNC_TOKEN_PREFIX,
    CollectionRecord,
    Conflict,
    ExpiredSyncToken,
    InvalidSyncToken,
    NotFound,
    ObjectRecord,
    PreconditionFailed,
    PreparedObject,
    PropertyPolicy,
    PropertyRefused,
    StoreError,
    StoreSettings,
    TooManyChanges,
)
from bridge.store.shares import Shares
from bridge.store.sync import Sync

__all__ = ["SYNC_TOKEN_PREFIX", "CalendarStore", "CollectionRecord", "Conflict",
           "ExpiredSyncToken", "InvalidObject", "InvalidSyncToken", "NotFound", "ObjectRecord",
           "PreconditionFailed", "PreparedObject", "PropertyPolicy", "PropertyRefused",
           "Snapshot", "StoreError", "StoreSettings", "TooManyChanges", "WindowMatch", "now_ts",
           "uid_of"]


class CalendarStore:
    """The store API shared by the Radicale adapter, the REST API and the CLI."""

    def __init__(self, db: Database, settings: StoreSettings | None = None) -> None:
        self.db = db
        self.settings = settings or StoreSettings()
        self.collections = Collections(db, self.settings.property_policy)
        self.objects = Objects(db, self.settings)
        self.sync = Sync(db)
        self.shares = Shares(db)

    # -- settings and transactions -------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    def read(self) -> AbstractContextManager[Connection]:
        return self.db.read()

    def write(self, *lock_paths: str) -> AbstractContextManager[Connection]:
        return self.db.write(*lock_paths)

    def side_write(self, *lock_paths: str) -> AbstractContextManager[Connection]:
        return self.db.side_write(*lock_paths)

    def prepare(self, text: str, envelope: tuple[int, int] | None = None,
                now: dt.datetime | None = None, *, check_limits: bool | None = None,
                parsed: icalendar.Calendar | None = None) -> PreparedObject:
        """See ``Objects.prepare``: pure CPU, run before any lock is taken."""
        return self.objects.prepare(text, envelope, now, check_limits=check_limits,
                                    parsed=parsed)

    # -- collections ---------------------------------------------------------------------------

    def get_collection(self, path: str) -> CollectionRecord | None:
        return self.collections.get(path)

    def get_collection_by_id(self, collection_id: int) -> CollectionRecord | None:
        return self.collections.by_id(collection_id)

    def child_collections(self, path: str) -> list[CollectionRecord]:
        return self.collections.children(path)

    def create_collection(
        self, path: str, props: Mapping[str, str] | None = None,
        objects: Iterable[tuple[str, PreparedObject]] | None = None,
        workspace_id: int | None = None,
    ) -> tuple[CollectionRecord, dict[str, ObjectRecord], list[str]]:
        return self.collections.create(path, props, objects, workspace_id)

    def calendars_in_workspace(self, workspace_id: int) -> list[CollectionRecord]:
        return self.collections.in_workspace(workspace_id)

    def set_props(self, collection_id: int, props: Mapping[str, str],
                  expected_revision: int | None = None) -> CollectionRecord:
        return self.collections.set_props(collection_id, props, expected_revision)

    def delete_collection(self, collection_id: int, expected_revision: int | None = None
                          ) -> None:
        self.collections.delete(collection_id, expected_revision)

    # -- objects -------------------------------------------------------------------------------

    def get_objects(self, collection_id: int, hrefs: Sequence[str] | None = None
                    ) -> list[ObjectRecord]:
        return self.objects.get(collection_id, hrefs)

    def get_object_by_public_id(self, public_id: str) -> ObjectRecord | None:
        return self.objects.by_public_id(public_id)

    def object_texts(self, collection_id: int) -> list[str]:
        return self.objects.texts(collection_id)

    def object_summaries(self, collection_id: int) -> list[tuple[str, str, int, str]]:
        return self.objects.summaries(collection_id)

    def uid_hrefs(self, collection_id: int) -> dict[str, str]:
        return self.objects.uid_hrefs(collection_id)

    def has_uid(self, collection_id: int, uid: str) -> bool:
        return self.objects.has_uid(collection_id, uid)

    def count_objects(self, collection_id: int) -> int:
        return self.objects.count(collection_id)

    def put_object(self, collection_id: int, href: str, prepared: PreparedObject, *,
                   if_match: str | None = None, if_none_match: bool = False
                   ) -> tuple[ObjectRecord, ObjectRecord | None]:
        return self.objects.put(collection_id, href, prepared, if_match=if_match,
                                if_none_match=if_none_match)

    def delete_object(self, collection_id: int, href: str, *, if_match: str | None = None
                      ) -> ObjectRecord:
        return self.objects.delete(collection_id, href, if_match=if_match)

    def move_object(self, from_collection_id: int, href: str, to_collection_id: int,
                    to_href: str) -> ObjectRecord:
        return self.objects.move(from_collection_id, href, to_collection_id, to_href)

    def reindex(self, collection_id: int, href: str, etag: str,
                prepared: PreparedObject | None) -> bool:
        return self.objects.reindex(collection_id, href, etag, prepared)

    # -- queries -------------------------------------------------------------------------------

    def objects_in_window(self, collection_id: int, start: int, end: int,
                          component: str | None = "VEVENT") -> list[WindowMatch]:
        return self.objects.in_window(collection_id, start, end, component)

    def reading(self) -> AbstractContextManager[Snapshot]:
        return self.objects.reading()

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        return self.objects.snapshot()

    def changes_since(self, collection_id: int, token: str) -> tuple[str, list[str]]:
        return self.sync.changes_since(collection_id, token)

    def changed_objects(self, collection_id: int, token: str, max_changes: int
                        ) -> tuple[str, list[ObjectRecord], list[str]]:
        return self.sync.changed_objects(collection_id, token, max_changes)


def uid_of(text: str) -> str:
    return object_uid_and_component(parse_object(text))[0]

