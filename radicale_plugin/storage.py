"""Radicale storage plugin over the calbridge store: ``[storage] type = radicale_plugin.storage``.

It translates; the store decides. Every O(N) default of BaseCollection is replaced by an
indexed store query, and Items are built from columns so that no query the index answers
parses any iCalendar.

A calendar shared with a user appears in their home as ``/<user>/shared-<id>/``
(``bridge.store.shares``): a Collection with that path over the owner's record, so objects,
change log and sync tokens are the owner's; its properties are the owner's with the
recipient's own overrides, which PROPPATCH on that path keeps per recipient. Deleting it
hides it from the recipient's home (the owner's calendar is never deleted through it), and
write locks are taken on the owner's path, so both paths serialize against each other.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from radicale import config as radicale_config
from radicale import item as radicale_item
from radicale import pathutils, types
from radicale import storage as radicale_storage
from radicale.log import logger

from bridge.core.bundle import bundle_calendar
from bridge.core.expand import has_instance
from bridge.core.index import TIMESTAMP_MAX, TIMESTAMP_MIN, InvalidObject
from bridge.core.limits import MAX_DATE_TIME, MIN_DATE_TIME, LimitExceeded, caldav_time
from bridge.core.operations import CREATE, DELETE, missing_operations, operations_for_change
from bridge.core.times import http_date
from bridge.core.vcard import VCARD
from bridge.service.scheduling import RsvpLinks, Scheduler
from bridge.store.access import AccessPolicy, current_policy
from bridge.store.shares import OVERRIDABLE, Grant, alias_calendar_id, alias_name
from bridge.store.store import (
    CalendarStore,
    CollectionRecord,
    Conflict,
    NotFound,
    ObjectRecord,
    PreparedObject,
)
from radicale_plugin.implicit import scheduled
from radicale_plugin.internals import (
    check_radicale,
    etag_of,
    find_available_uid,
    simplify_prefilters,
)
from radicale_plugin.store_factory import store_from_radicale_config

PLUGIN_CONFIG_SCHEMA = {
    "storage": {
        "calbridge_database_url": {"value": "", "type": str},
        # Where answer links in mailed invitations point (server.base_url).
        "calbridge_base_url": {"value": "", "type": str},
    }
}


class Refused(ValueError):
    """A write the request's token may not make. Radicale's handlers turn a ValueError that
    names EACCES into 403 Forbidden; raised before anything is written."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"[Errno 13] {reason}")


def require_operations(needed: Iterable[str]) -> None:
    """Refuse unless the CalDAV request's token may do ``needed`` (seed 004's operations)."""
    policy = current_policy.get()
    if policy is None or policy.token is None or policy.all_operations:
        return
    missing = missing_operations(needed, policy.token.operations)
    if missing:
        raise Refused("This token may not " + ", ".join(m.replace("_", " ") for m in missing))


# The vCards of the PUT being answered, as the client wrote them (UID -> text), set by the PUT
# seam (app/put.py): a vCard is stored as written, not as vobject re-serialized it.
put_vcards: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "put_vcards", default=None)


# RFC 4791 5.2.6-5.2.8, answered for calendars from the store's limits (never stored: a client
# cannot PROPPATCH them away, and they stay out of allprop as the RFC asks).
LIMIT_PROPERTIES = ("C:max-instances", "C:min-date-time", "C:max-date-time")


class Collection(radicale_storage.BaseCollection):
    """A calendar, an address book, a principal or the root ("")."""

    def __init__(self, storage: Storage, path: str, record: CollectionRecord | None,
                 grant: Grant | None = None) -> None:
        self._storage = storage
        self._path = path
        self._record = record
        self._grant = grant  # set on a shared calendar seen from a recipient's home

    @property
    def grant(self) -> Grant | None:
        return self._grant

    @property
    def store(self) -> CalendarStore:
        return self._storage.store

    @property
    def record(self) -> CollectionRecord:
        if self._record is None:
            raise NotFound("the root collection has no record")
        return self._record

    @property
    def path(self) -> str:
        return self._path

    # -- items ---------------------------------------------------------------------------

    def item_from(self, record: ObjectRecord) -> radicale_item.Item:
        # A vCard is Radicale's item named VCARD with no component (its find_tag is "").
        card = record.component == VCARD
        return radicale_item.Item(
            collection=self, href=record.href, last_modified=http_date(record.last_modified),
            text=record.text, etag=record.etag, uid=record.uid,
            name=VCARD if card else "VCALENDAR", component_name="" if card else record.component,
            time_range=(record.start_ts, record.end_ts),
        )

    def get_multi(self, hrefs: Iterable[str]
                  ) -> Iterable[tuple[str, radicale_item.Item | None]]:
        if self._record is None:
            return [(href, None) for href in hrefs]
        hrefs = list(hrefs)
        found = {r.href: r for r in self.served(self.store.get_objects(self.record.id, hrefs))}
        return [(h, self.item_from(found[h]) if h in found else None) for h in dict.fromkeys(hrefs)]

    def get_all(self) -> Iterable[radicale_item.Item]:
        if self._record is None:
            return []
        return [self.item_from(r) for r in self.served(self.store.get_objects(self.record.id))]

    def served(self, records: Iterable[ObjectRecord]) -> Iterator[ObjectRecord]:
        """``records`` less those over Radicale's ``max_resource_size`` (lowered after they
        were stored), which multifilesystem leaves out of every answer too."""
        limit = self._storage.max_resource_size
        for record in records:
            if len(record.text) * 4 > limit and len(record.text.encode()) > limit:
                logger.warning("object skipped because its size exceeds max_resource_size "
                               "%d: %s/%s", limit, self.path, record.href)
                continue
            yield record

    def get_filtered(self, filters: Iterable[ET.Element]
                     ) -> Iterable[tuple[radicale_item.Item, bool]]:
        if not self.tag or self._record is None:
            return []
        tag, start, end, simple = simplify_prefilters(filters, self.tag)
        if start == TIMESTAMP_MIN and end == TIMESTAMP_MAX:
            return [(self.item_from(r), simple)
                    for r in self.served(self.store.get_objects(self.record.id))
                    if tag is None or r.component == tag]
        results = []
        for match in self.store.objects_in_window(self.record.id, start, end, component=tag):
            record = match.record
            if not any(self.served([record])):
                continue
            if match.proven:
                matched = simple
            elif simple and tag == "VEVENT" and (found := self._has_instance(
                    record, start, end)) is not None:
                # Outside the materialized horizon: decided here with the bounded expander,
                # where Radicale's filter would walk the rule from its start with vobject.
                if not found:
                    continue
                matched = True
            else:  # Radicale's own envelope rule
                matched = simple and (start <= record.start_ts or record.end_ts <= end)
            results.append((self.item_from(record), matched))
        return results

    @staticmethod
    def _has_instance(record: ObjectRecord, start: int, end: int) -> bool | None:
        """Whether the object has an instance in [start, end); None when it cannot be read
        here (Radicale's filter then decides, as for any object)."""
        try:
            return has_instance(record.text, record.etag, _instant(start), _instant(end))
        except LimitExceeded:
            raise
        except ValueError:
            return None

    def has_uid(self, uid: str) -> bool:
        return self._record is not None and self.store.has_uid(self.record.id, uid)

    def upload(self, href: str, item: radicale_item.Item
               ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        prepared = self._storage.prepare_item(item)
        self._check_operations(href, prepared.text)
        before = self.store.get_objects(self.record.id, [href])
        messages = scheduled(self.record.tag, before[0].text if before else None, prepared.text)
        scheduler = self._storage.scheduler
        try:
            with self.store.write(self.record.path, *scheduler.locks(messages)):
                new, old = self.store.put_object(self.record.id, href, prepared)
                scheduler.deliver(messages)
        except Conflict as exc:
            raise ValueError(str(exc)) from exc
        self._refresh()
        return self.item_from(new), (self.item_from(old) if old else None)

    def _check_operations(self, href: str, new_text: str) -> None:
        policy = current_policy.get()
        if policy is None or policy.all_operations:
            return  # the common case pays for no comparison
        old = self.store.get_objects(self.record.id, [href])
        if not old:
            require_operations([CREATE])
            return
        require_operations(operations_for_change(old[0].text, new_text, policy.user.email))

    def delete(self, href: str | None = None) -> None:
        if href is None and self._record is None:
            # The root, as multifilesystem deletes it: every collection goes, the root stays.
            # (calbridge's rights plugin never allows it; Radicale's rights plugins may.)
            for top in self.store.child_collections(""):
                self.store.delete_collection(top.id)
            return
        if href is None and self._grant is not None:
            self._hide()  # the recipient's copy goes; the owner's calendar stays
            return
        if href is None:
            self.store.delete_collection(self.record.id)
            return
        before = self.store.get_objects(self.record.id, [href])
        messages = scheduled(self.record.tag, before[0].text, None) if before else []
        scheduler = self._storage.scheduler
        try:
            with self.store.write(self.record.path, *scheduler.locks(messages)):
                self.store.delete_object(self.record.id, href)
                scheduler.deliver(messages)
        except NotFound as exc:
            raise radicale_storage.ComponentNotFoundError(href) from exc
        self._refresh()

    # -- metadata ------------------------------------------------------------------------

    def _hide(self) -> None:
        user = self.store.shares.user_id(self._path.split("/", 1)[0])
        if user is not None:
            self.store.shares.set_settings(user, self.record.id, visible=False)

    def get_meta(self, key: str | None = None) -> Any:
        props = self._record.props if self._record is not None else {}
        if self._grant is not None and self._grant.props:
            props = {**props, **self._grant.props}
        if key in LIMIT_PROPERTIES and props.get("tag") == "VCALENDAR":
            return {"C:max-instances": str(self.store.limits.max_instances),
                    "C:min-date-time": caldav_time(MIN_DATE_TIME),
                    "C:max-date-time": caldav_time(MAX_DATE_TIME)}[key]
        return dict(props) if key is None else props.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        policy = current_policy.get()
        if self._grant is not None:
            self._set_overrides(props)
            return
        if policy is not None and props.get("tag", "") != self.record.tag and \
                not policy.rights(self.record).delete:
            # Un-calendaring (or re-typing) a collection hides all it holds: as a delete.
            raise Refused("Changing the resource type of a calendar needs calendars:admin.")
        if policy is not None and dict(props) != self.record.props and \
                not policy.rights(self.record).configure:
            # A share's recipient changes their own view (their home's path), not the owner's.
            raise Refused("Only the calendar's owner and workspace admins change its "
                          "properties.")
        self._record = self.store.set_props(self.record.id, props)

    def _set_overrides(self, props: Mapping[str, str]) -> None:
        """A recipient's PROPPATCH: their own display name, colour and order, nothing else."""
        current = self.get_meta()
        changed = {k for k in set(props) | set(current) if props.get(k) != current.get(k)}
        if changed - set(OVERRIDABLE):
            raise Refused("On a shared calendar only " + ", ".join(OVERRIDABLE)
                          + " can be set, and only for yourself.")
        user = self.store.shares.user_id(self._path.split("/", 1)[0])
        if user is None:
            raise NotFound(self._path)
        try:
            self.store.shares.set_settings(user, self.record.id,
                                           props={k: props.get(k) for k in changed})
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        self._grant = self.store.shares.grant(self._path.split("/", 1)[0], self.record.id)

    @property
    def last_modified(self) -> str:
        return http_date(self._record.updated_at if self._record else 0)

    @property
    def etag(self) -> str:
        if self._record is None:
            return '"root"'
        return self.record.etag

    def serialize(self, vcf_to_ics: bool = False, ShareActions: dict | None = None) -> str:  # noqa: N803
        if self.tag != "VCALENDAR" or self._record is None:
            return super().serialize(vcf_to_ics, ShareActions or {})
        # The owner's name, whichever path asks: the body is cached by revision.
        return bundle_calendar(self.store.object_texts(self.record.id),
                               self.record.props.get("D:displayname"),
                               self.record.props.get("C:calendar-description"))

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        return self.store.changes_since(self.record.id, old_token)

    def _refresh(self) -> None:
        record = self.store.get_collection_by_id(self.record.id)
        if record is None:
            raise NotFound(f"collection {self.record.id} is gone")
        self._record = record


class Storage(radicale_storage.BaseStorage):
    _is_collision_free = True
    _supports_unicode = True
    _supports_trailing_whitespace = True
    _supports_problematic_chars = True

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        check_radicale()
        super().__init__(configuration)
        self.store = store_from_radicale_config(configuration)
        self.max_resource_size = int(configuration.get("server", "max_resource_size"))
        base_url = str(configuration.get("storage", "calbridge_base_url"))
        self.scheduler = Scheduler(self.store, RsvpLinks(self.store, base_url)
                                   if base_url else None)

    def prepare_item(self, item: radicale_item.Item) -> PreparedObject:
        text = item.serialize()
        if item.name == VCARD:
            text = (put_vcards.get() or {}).get(item.uid, text)
        try:
            return self.store.prepare(text, item.time_range)
        except InvalidObject as exc:
            raise ValueError(str(exc)) from exc

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], AbstractContextManager[None]]
        | None = None,
        user_groups: set[str] | None = None,
    ) -> Iterator[types.CollectionOrItem]:
        sane_path = pathutils.strip_path(path)
        child_context = child_context_manager or (lambda _p, _h: nullcontext())
        if not sane_path:
            root = Collection(self, "", None)
            yield root
            if depth != "0":
                for top in self.store.child_collections(""):
                    yield Collection(self, top.path, top)
            return
        collection = self.collection_at(sane_path)
        if collection is None:
            parent_path, _, href = sane_path.rpartition("/")
            parent = self.collection_at(parent_path) if parent_path else None
            if parent is None:
                return
            found = list(parent.served(self.store.get_objects(parent.record.id, [href])))
            if found:
                yield parent.item_from(found[0])
            return
        yield collection
        if depth == "0":
            return
        record = collection.record
        for item_record in collection.served(self.store.get_objects(record.id)):
            with child_context(sane_path, item_record.href):
                yield collection.item_from(item_record)
        for child in self.store.child_collections(sane_path):
            yield Collection(self, child.path, child)
        if "/" not in sane_path:  # a home: the calendars shared with its user
            yield from self.shared_calendars(sane_path)

    def collection_at(self, sane_path: str) -> Collection | None:
        """The collection of a path: a stored one, or a shared calendar's alias in a home."""
        record = self.store.get_collection(sane_path)
        if record is not None:
            return Collection(self, record.path, record)
        home, _, name = sane_path.partition("/")
        calendar_id = alias_calendar_id(name) if home and "/" not in name else None
        if calendar_id is None:
            return None
        record = self.store.get_collection_by_id(calendar_id)
        grant = self.store.shares.grant(home, calendar_id) if record is not None else None
        if record is None or grant is None:
            return None
        return Collection(self, sane_path, record, grant)

    def shared_calendars(self, home: str) -> Iterator[Collection]:
        for calendar_id, grant in sorted(self.store.shares.listed(home).items()):
            record = self.store.get_collection_by_id(calendar_id)
            if record is not None:
                yield Collection(self, f"{home}/{alias_name(calendar_id)}", record, grant)

    def lock_path(self, path: str) -> str:
        """A write lock's scope: the owner's path for a shared calendar's alias."""
        sane = path.strip("/")
        parts = sane.split("/")
        if len(parts) >= 2 and alias_calendar_id(parts[1]) is not None:
            collection = self.collection_at("/".join(parts[:2]))
            if collection is not None:
                return "/".join([collection.record.path, *parts[2:]])
        return sane

    def move(self, item: radicale_item.Item, to_collection: radicale_storage.BaseCollection,
             to_href: str) -> None:
        assert isinstance(item.collection, Collection) and isinstance(to_collection, Collection)
        assert item.href is not None
        require_operations([DELETE, CREATE])  # the object leaves one calendar for another
        self.store.move_object(item.collection.record.id, item.href,
                               to_collection.record.id, to_href)

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[Collection, dict[str, radicale_item.Item], list[str]]:
        sane_path = pathutils.strip_path(href)
        objects: list[tuple[str, PreparedObject]] = []
        if props is not None and props.get("tag") and items is not None:
            taken: set[str] = set()
            suffix = ".vcf" if props.get("tag") == "VADDRESSBOOK" else ".ics"
            for item in items:
                objects.append((_free_href(item.uid, taken, suffix), self.prepare_item(item)))
        if objects:
            require_operations([CREATE])
        record, replaced, written = self.store.create_collection(
            sane_path, props, objects, workspace_id=_workspace_of(current_policy.get()))
        collection = Collection(self, record.path, record)
        return collection, {h: collection.item_from(r) for h, r in replaced.items()}, written

    @types.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any
                     ) -> Iterator[None]:
        if mode == "w":
            paths = [p for p in (kwargs.get("path"), kwargs.get("to_path")) if p] or [""]
            with self.store.write(*[self.lock_path(p) for p in paths]):
                yield
        else:
            with self.store.read():
                yield

    def verify(self) -> bool:
        ok = True
        for record in self.store.child_collections(""):
            for child in [record, *self.store.child_collections(record.path)]:
                for obj in self.store.get_objects(child.id):
                    if etag_of(obj.text) != obj.etag:
                        logger.error("etag mismatch for %s/%s", child.path, obj.href)
                        ok = False
        return ok


def _workspace_of(policy: AccessPolicy | None) -> int | None:
    """A token's calendars live in the token's workspace (as a REST create); a password's in
    its user's default workspace (the store decides when this is None)."""
    return policy.workspace_id if policy is not None else None


def _instant(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _free_href(uid: str, taken: set[str], suffix: str) -> str:
    """The href multifilesystem would pick for an object of a whole-collection PUT
    (``suffix`` .ics in a calendar, .vcf in an address book)."""
    for candidate in (uid if uid.lower().endswith(suffix) else uid + suffix,
                      etag_of(uid).strip('"') + suffix):
        if pathutils.is_safe_filesystem_path_component(candidate) and candidate not in taken:
            taken.add(candidate)
            return candidate
    href = find_available_uid(lambda h: h in taken, suffix)
    taken.add(href)
    return href

