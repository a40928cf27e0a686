"""GET /api/health: is the server up, and can it reach its store?"""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from bridge.models import ApiModel
from bridge.services import services

health_blueprint = APIBlueprint("health", __name__, url_prefix="/api",
                                abp_tags=[Tag(name="health")])


class StoreHealth(ApiModel):
    status: str
    dialect: str | None = None
    detail: str | None = None


class Health(ApiModel):
    status: str
    store: StoreHealth


@health_blueprint.get("/health", responses={200: Health, 503: Health})
def health():  # type: ignore[no-untyped-def]
    """Whether the server is up and its store answers."""
    try:
        dialect = services().store.db.ping()
        return {"status": "ok", "store": {"status": "ok", "dialect": dialect}}
    except Exception as exc:  # the point of a health check is to report, not to raise
        return {"status": "degraded", "store": {"status": "error", "detail": str(exc)}}, 503
