"""The Flask application factory: REST API blueprints over the store."""

from __future__ import annotations

from flask import Flask

from bridge.api.health import health_blueprint
from bridge.config import Settings
from radicale_plugin.store import CalendarStore


def create_app(settings: Settings, store: CalendarStore) -> Flask:
    app = Flask("calbridge")
    app.config["CALBRIDGE_SETTINGS"] = settings
    app.extensions["calbridge_store"] = store
    app.register_blueprint(health_blueprint, url_prefix="/api")
    return app
