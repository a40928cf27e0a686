"""The REST API families, one module each; none imports another (the import contract).

What they share is here: the blueprint of a family behind a bearer token, with its OpenAPI tag
and the refusals any of its views may answer.
"""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from bridge.models import problem_responses

WORKSPACE_CALENDARS = "/api/v2/w/<workspace_uuid>/calendars"
ONE_CALENDAR = WORKSPACE_CALENDARS + "/<int:calendar_id>"


def bearer_blueprint(name: str, import_name: str, url_prefix: str, tag: str,
                     description: str | None = None) -> APIBlueprint:
    """A family's views behind a bearer token: any of them may answer 401, 403, 404 or 429."""
    return APIBlueprint(name, import_name, url_prefix=url_prefix,
                        abp_tags=[Tag(name=tag, description=description)],
                        abp_security=[{"bearer": []}],
                        abp_responses=problem_responses(401, 403, 404, 429))
