"""Request and response models shared by the API families: declared once, they drive both
validation and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re
from http import HTTPStatus
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from bridge.core.times import iso_z
from bridge.store.access import AccessName
from bridge.store.shares import Share


def _known_zone(value: str) -> str:
    from bridge.mapping.calendars import is_timezone

    if not is_timezone(value):
        raise ValueError("unknown IANA time zone")
    return value


# An IANA time zone name, checked against the zone database.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]

# Ids are the store's INTEGER keys, 32 bits on PostgreSQL: a larger number cannot name a row,
# and must be refused before it reaches a query (PostgreSQL rejects it as out of range).
MAX_DATABASE_ID = 2**31 - 1
DatabaseId = Annotated[int, Field(ge=1, le=MAX_DATABASE_ID)]


# What XML 1.0 cannot carry (NUL and the other C0 controls but TAB, LF and CR; lone surrogates;
# U+FFFE and U+FFFF). Text of the API ends up in CalDAV's XML answers, and PostgreSQL refuses
# NUL outright, so such text is refused at the door instead of failing later.
_UNSTORABLE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Times a request may name: wide enough for any calendar, narrow enough that window
# arithmetic (a start plus days, a conversion to UTC) can never leave Python's datetime range.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


def _refuse_unstorable(value: object) -> None:
    if isinstance(value, dt.datetime | dt.date):
        moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        if not EARLIEST <= moment < LATEST:
            raise ValueError(f"times must lie between {EARLIEST.year} and {LATEST.year - 1}")
    elif isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found:
            raise ValueError(f"contains U+{ord(found.group()):04X}, which cannot be stored")
    elif isinstance(value, list | tuple | set):
        for item in value:
            _refuse_unstorable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key)
            _refuse_unstorable(item)


class StorableValuesModel(BaseModel):
    """Every text and time value of a request, however nested, is one the store, XML and the
    window arithmetic can hold."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_values(cls, value: object) -> object:
        _refuse_unstorable(value)
        return value


class ApiModel(StorableValuesModel):
    """camelCase on the wire, unknown request fields refused (typos must not pass silently)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Problem(ApiModel):
    """RFC 9457 problem details, with the seed's code and message."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    message: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict] | None = None


class WorkspacePath(ApiModel):
    workspace_uuid: str = Field(alias="workspace_uuid")


# The shape flask-openapi3 takes for ``responses`` (its ResponseDict, spelled out: this module
# imports no web framework).
Responses = dict[str | int | HTTPStatus, type[BaseModel] | dict[Any, Any] | None]


def problem_responses(*statuses: int) -> Responses:
    return {status: Problem for status in statuses}


# -- shares: the shares family manages them, calendar responses list them (``sharedWith``) -------

ShareLevel = Literal["freebusy", "read", "read-write"]
# How the user reaches a calendar: its owner, a workspace admin, or a share's level.
CalendarAccess = AccessName


class ShareRecipient(ApiModel):
    type: Literal["user", "workspace"]
    username: str | None = Field(description="user shares: the recipient's username")
    email: str | None = Field(description="user shares: the recipient's email")
    workspace_uuid: str | None = Field(description="workspace shares: every member of it")


class ShareResponse(ApiModel):
    id: int
    calendar_id: int
    recipient: ShareRecipient
    access: ShareLevel = Field(description="freebusy: busy time only; read; read-write: "
                                           "events may be created, changed and deleted")
    status: Literal["accepted", "pending", "declined"] = Field(
        description="pending/declined: an invitation from Apple Calendar not (yet) accepted")
    created_by: str
    created_at: str
    updated_at: str


def share_json(share: Share, workspace_uuid: str | None) -> dict[str, Any]:
    """A stored share as the API shows it (``workspace_uuid``: of a workspace share)."""
    recipient = ShareRecipient(
        type="user" if share.user_id is not None else "workspace", username=share.username,
        email=share.email, workspace_uuid=workspace_uuid if share.user_id is None else None)
    return ShareResponse(
        id=share.id, calendar_id=share.calendar_id, recipient=recipient,
        access=cast(ShareLevel, share.level), status=cast(Any, share.status),
        created_by=share.created_by, created_at=iso_z(share.created_at),
        updated_at=iso_z(share.updated_at)).model_dump(by_alias=True)
