"""The store's records, errors and settings: plain values the repositories return and take.

Decisions:
- Records are frozen dataclasses built from columns; nothing is parsed to build one.
- ``StoreSettings`` is built once by the composition root (wsgi, the CLI, the Radicale
  plugin's factory) and handed to the store; nothing changes it afterwards.
- Property checks are registered by name by the composition root: the store knows no
  calendar semantics of collection properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import RowMapping

from bridge.core.index import IndexPolicy, InvalidObject, ObjectIndex
from bridge.core.limits import Limits
from bridge.store.schema import MAX_PATH_LENGTH, calendar_object


def checked_path(path: str) -> str:
    """``path`` (a collection path or an href), refused as bad input if no column holds it."""
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidObject(f"the path is longer than {MAX_PATH_LENGTH} characters")
    return path

SYNC_TOKEN_PREFIX = "http://radicale.org/ns/sync/cb-"


class StoreError(Exception):
    """Base of the store's errors; each door maps them to its own status codes."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """A UID or path already taken."""


class PreconditionFailed(StoreError):
    """An If-Match / If-None-Match style expectation did not hold."""


class InvalidSyncToken(StoreError, ValueError):
    """Unknown, foreign or pruned sync token (Radicale answers valid-sync-token)."""


class ExpiredSyncToken(InvalidSyncToken):
    """A sync token older than the retained change log: the client must sync in full."""


class TooManyChanges(StoreError):
    """More changes since a sync token than one answer may carry: sync in full (paged)."""


class PropertyRefused(StoreError):
    """A collection property the store will not keep (nothing was written): too large
    (``too_large``), or refused by the check registered for its name."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


def _props_bytes(props: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in props.items())


@dataclass
class PropertyPolicy:
    """Bounds on collection properties, and checks by property name. The checks are set by
    the composition root (the store knows no calendar semantics); one raises ValueError."""

    max_bytes: int = 64 * 1024
    max_total_bytes: int = 256 * 1024
    checks: dict[str, Callable[[str], object]] = field(default_factory=dict)

    def check(self, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        """Only what changes is checked, so a value an older version stored never blocks a
        write that leaves it alone."""
        for name, value in new.items():
            if old.get(name) == value:
                continue
            if len(name.encode()) + len(str(value).encode()) > self.max_bytes:
                raise PropertyRefused(f"property {name} is larger than {self.max_bytes} bytes",
                                      too_large=True)
            check = self.checks.get(name)
            if check is not None:
                try:
                    check(str(value))
                except ValueError as exc:
                    raise PropertyRefused(f"property {name}: {exc}", too_large=False) from exc
        total = _props_bytes(new)
        if total > self.max_total_bytes and total > _props_bytes(old):
            raise PropertyRefused(f"the properties of a collection take at most "
                                  f"{self.max_total_bytes} bytes", too_large=True)


@dataclass(frozen=True)
class CollectionRecord:
    id: int
    path: str
    owner: str
    tag: str
    props: dict[str, str]
    revision: int
    log_floor: int
    max_occurrence_seconds: int
    created_at: int
    updated_at: int
    workspace_id: int | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> CollectionRecord:
        return cls(
            id=row["id"], path=row["path"], owner=row["owner"], tag=row["tag"] or "",
            props=dict(row["props"] or {}), revision=row["revision"],
            log_floor=row["log_floor"], max_occurrence_seconds=row["max_occurrence_seconds"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            workspace_id=row["workspace_id"],
        )

    @property
    def etag(self) -> str:
        """Changes with every write to the collection or its properties (CalDAV getctag)."""
        return f'"cb-{self.id}-{self.revision}"'

    @property
    def sync_token(self) -> str:
        return f"{SYNC_TOKEN_PREFIX}{self.id}-{self.revision}"


@dataclass(frozen=True)
class ObjectRecord:
    id: int
    collection_id: int
    href: str
    uid: str
    public_id: str
    etag: str
    component: str
    text: str
    start_ts: int
    end_ts: int
    last_modified: int

    @classmethod
    def from_row(cls, row: RowMapping) -> ObjectRecord:
        return cls(**{k: row[k] for k in _OBJECT_FIELDS})


_OBJECT_FIELDS = (
    "id", "collection_id", "href", "uid", "public_id", "etag", "component", "text",
    "start_ts", "end_ts", "last_modified",
)
OBJECT_COLUMNS = [calendar_object.c[k] for k in _OBJECT_FIELDS]


@dataclass(frozen=True)
class StoreSettings:
    """How the store indexes and what it accepts; built once from the configuration."""

    policy: IndexPolicy = field(default_factory=IndexPolicy)
    max_object_bytes: int = 10 * 1024 * 1024
    property_policy: PropertyPolicy = field(default_factory=PropertyPolicy)
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class PreparedObject:
    """An object checked and indexed, ready to be written (work done outside the lock)."""

    text: str
    etag: str
    index: ObjectIndex
