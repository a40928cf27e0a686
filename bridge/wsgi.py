"""One WSGI application: Radicale (CalDAV) at /, Flask at /api."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from radicale import config as radicale_config

from bridge.app import create_app
from bridge.config import Settings
from radicale_plugin.app import CalbridgeApplication
from radicale_plugin.engine import request_scope
from radicale_plugin.index import IndexPolicy
from radicale_plugin.limits import Limits
from radicale_plugin.recurrence import install_step_cap
from radicale_plugin.store import CalendarStore
from radicale_plugin.store_factory import open_store

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
FLASK_PREFIXES = ("/api", "/ics")


class PathDispatcher:
    """Send /api and /ics to Flask, everything else to Radicale, paths untouched."""

    def __init__(self, default: WSGIApp, flask_app: WSGIApp, store: CalendarStore) -> None:
        self.default = default
        self.flask_app = flask_app
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        app = self.default
        for prefix in FLASK_PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                app = self.flask_app
        with request_scope(self.store.engine):
            return app(environ, start_response)


def configured_limits(settings: Settings) -> Limits:
    return Limits(**{key: int(value) for key, value in settings.values["limits"].items()})


def radicale_configuration(settings: Settings) -> radicale_config.Configuration:
    max_object_bytes = int(settings.get("storage", "max_object_bytes"))
    limits = configured_limits(settings)
    configuration = radicale_config.load()
    configuration.update({
        # Radicale advertises and enforces max_resource_size (capped at 80% of
        # max_content_length); the store enforces the same limit for the REST door.
        # Radicale's own expansion caps follow ours; its estimate of a finite rule's length
        # (periods from DTSTART to UNTIL) is a work measure, capped like every rule's steps.
        "server": {"hosts": f"{settings.host}:{settings.port}",
                   "max_resource_size": str(max_object_bytes),
                   "max_content_length": str(max(100_000_000, max_object_bytes * 5 // 4 + 1)),
                   "max_vevent_rrule_occurrence": str(limits.max_recurrence_steps)},
        "reporting": {"max_expand_occurrence": str(limits.max_instances),
                      "max_freebusy_occurrence": str(limits.max_instances)},
        "auth": {"type": "radicale_plugin.auth",
                 "delay": str(settings.get("security", "auth_delay"))},
        "rights": {"type": "radicale_plugin.rights"},
        "storage": {"type": "radicale_plugin.storage",
                    "filesystem_folder": str(settings.data_dir / "radicale")},
        "web": {"type": "internal"},
        "logging": {"level": str(settings.get("logging", "level"))},
    }, "calbridge", privileged=True)
    configuration.update({"storage": {
        "calbridge_database_url": settings.database_url,
        "calbridge_auth_max_failures": str(settings.get("security", "auth_max_failures")),
        "calbridge_auth_failure_window": str(settings.get("security", "auth_failure_window")),
    }}, "calbridge", privileged=True)
    return configuration


def open_configured_store(settings: Settings) -> CalendarStore:
    store = open_store(settings.database_url)
    store.policy = IndexPolicy(
        past_days=int(settings.get("storage", "index_past_days")),
        future_days=int(settings.get("storage", "index_future_days")),
        max_per_series=int(settings.get("storage", "index_max_per_series")),
    )
    store.max_object_bytes = int(settings.get("storage", "max_object_bytes"))
    store.limits = configured_limits(settings)
    install_step_cap(store.limits.max_recurrence_steps)
    return store


def build_application(settings: Settings) -> PathDispatcher:
    store = open_configured_store(settings)
    dav = CalbridgeApplication(radicale_configuration(settings))
    return PathDispatcher(dav, create_app(settings, store), store)
