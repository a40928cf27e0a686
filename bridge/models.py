"""Request and response models shared by the API families: declared once, they drive both
validation and the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _known_zone(value: str) -> str:
    from bridge.mapping.calendars import is_timezone

    if not is_timezone(value):
        raise ValueError("unknown IANA time zone")
    return value


# An IANA time zone name, checked against the zone database.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]

# Ids are database integers: anything outside 64 bits cannot name a row.
DatabaseId = Annotated[int, Field(ge=1, le=2**62)]


class ApiModel(BaseModel):
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


def problem_responses(*statuses: int) -> dict[int, type[BaseModel]]:
    return {status: Problem for status in statuses}
