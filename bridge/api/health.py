"""GET /api/health: is the server up, and can it reach its store?"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from radicale_plugin.store import CalendarStore

health_blueprint = Blueprint("health", __name__)


@health_blueprint.get("/health")
def health():  # type: ignore[no-untyped-def]
    store: CalendarStore = current_app.extensions["calbridge_store"]
    try:
        with store.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        database = {"status": "ok", "dialect": store.engine.dialect.name}
        status = 200
    except Exception as exc:  # the point of a health check is to report, not to raise
        database = {"status": "error", "detail": str(exc)}
        status = 503
    return jsonify({"status": "ok" if status == 200 else "degraded", "store": database}), status
