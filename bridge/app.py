"""The Flask application factory: REST API blueprints over the store."""

from __future__ import annotations

from flask import redirect
from flask.json.provider import DefaultJSONProvider
from flask_openapi3 import Info, OpenAPI

from bridge.api.calendars import calendars_blueprint
from bridge.api.events import events_blueprint
from bridge.api.feeds import feeds_blueprint, ics_blueprint
from bridge.api.health import health_blueprint
from bridge.api.rsvp import rsvp_blueprint
from bridge.api.schedules import schedules_blueprint
from bridge.api.shares import shares_blueprint
from bridge.api.tokens import tokens_blueprint
from bridge.api.webhooks import webhooks_blueprint
from bridge.auth import authenticate_request
from bridge.config import Settings
from bridge.errors import register_error_handlers, validation_failed
from bridge.guard import guard_json_body
from bridge.notify.service import WebhookSettings
from bridge.service.events import EventService
from bridge.service.instances import InstanceService
from bridge.service.scheduling import RsvpLinks
from bridge.services import Services
from bridge.store.accounts import Accounts
from bridge.store.store import CalendarStore
from bridge.store.throttle import LoginThrottle, ThrottlePolicy


def create_app(settings: Settings, store: CalendarStore) -> OpenAPI:
    app = OpenAPI(
        "calbridge",
        info=Info(title="calbridge API", version="1.0.0",
                  description="Workspace Calendars + Schedules API and the Access Events API "
                              "over the same store that CalDAV clients sync."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        doc_prefix="/api/docs", doc_url="/openapi.json",
        validation_error_status=400, validation_error_callback=validation_failed,
    )
    if isinstance(app.json, DefaultJSONProvider):  # Flask's own, which sorts by default
        app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = int(settings.get("input", "max_json_bytes"))
    links = RsvpLinks(store, settings.base_url)
    events = EventService(store, links)
    hooks = WebhookSettings.from_settings(settings)
    app.extensions["calbridge"] = Services(
        settings=settings, store=store, accounts=Accounts(store),
        throttle=LoginThrottle(store, ThrottlePolicy(
            max_failures=int(settings.get("security", "auth_max_failures")),
            window_seconds=int(settings.get("security", "auth_failure_window")),
            max_failures_per_address=int(
                settings.get("security", "auth_max_failures_per_address")))),
        events=events, instances=InstanceService(events),
        webhooks=hooks.repository(store), webhook_settings=hooks, rsvp_links=links,
    )
    register_error_handlers(app)
    app.before_request(guard_json_body)
    app.before_request(authenticate_request)
    app.register_api(health_blueprint)
    app.register_api(tokens_blueprint)
    app.register_api(calendars_blueprint)
    app.register_api(schedules_blueprint)
    app.register_api(feeds_blueprint)
    app.register_api(webhooks_blueprint)
    app.register_api(rsvp_blueprint)
    app.register_api(shares_blueprint)
    app.register_api(ics_blueprint)
    app.register_api(events_blueprint)
    app.add_url_rule("/api/openapi.json", "openapi_document", lambda: app.api_doc)
    app.add_url_rule("/api/docs", "docs_home", lambda: redirect("/api/docs/swagger"))
    return app
