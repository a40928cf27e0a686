"""One WSGI application: Radicale (CalDAV) at /, Flask at /api."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from radicale import config as radicale_config

from bridge.api.schedules import AVAILABILITY_PROP
from bridge.app import create_app
from bridge.config import Settings
from bridge.core import expand
from bridge.core.availability import validated_schedules
from bridge.core.index import IndexPolicy
from bridge.core.limits import Limits
from bridge.core.recurrence import install_step_cap
from bridge.guard import CalDavGuard, InputLimits
from bridge.notify.service import PushService, PushSettings
from bridge.store.engine import request_scope
from bridge.store.records import PropertyPolicy, StoreSettings
from bridge.store.store import CalendarStore
from radicale_plugin.app import CalbridgeApplication
from radicale_plugin.store_factory import open_store

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
FLASK_PREFIXES = ("/api", "/ics", "/rsvp")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# What waitress clears from untrusted peers by default; the dispatcher does it for every
# WSGI server, so that only a trusted proxy's word reaches the apps.
PROXY_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_BY",
                 "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PROTO")


def trusted_networks(entries: Iterable[str] | str) -> tuple[Network, ...]:
    """``server.trusted_proxies``: addresses or networks ("10.0.0.0/8"), as a list or a
    comma-separated string."""
    if isinstance(entries, str):
        entries = entries.split(",")
    return tuple(ipaddress.ip_network(entry.strip(), strict=False)
                 for entry in entries if entry.strip())


def forwarded_client(environ: dict[str, Any], trusted: tuple[Network, ...]) -> None:
    """Set REMOTE_ADDR to the client a trusted proxy names in X-Forwarded-For (werkzeug's
    ProxyFix semantics, keyed by the proxy's address instead of a count; the original is kept
    in ``werkzeug.proxy_fix.orig``). From an untrusted peer the header is ignored, since
    anyone can send it (and dropped). Through a chain of trusted proxies the nearest
    untrusted address is the client; every entry to its left was written by the client."""
    peer = environ.get("REMOTE_ADDR", "")
    if not _is_trusted(peer, trusted):
        for header in PROXY_HEADERS:
            environ.pop(header, None)
        return
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded:
        return
    client = peer
    for entry in reversed(forwarded.split(",")):
        entry = entry.strip()
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            break  # not an address a proxy writes: trust nothing further left
        client = entry
        if not _is_trusted(entry, trusted):
            break
    environ.setdefault("werkzeug.proxy_fix.orig", {"REMOTE_ADDR": peer})
    environ["REMOTE_ADDR"] = client


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class PathDispatcher:
    """Send /api and /ics to Flask, everything else to Radicale, paths untouched; both see
    the client address behind trusted proxies."""

    def __init__(self, default: WSGIApp, flask_app: WSGIApp, store: CalendarStore,
                 trusted_proxies: tuple[Network, ...] = (),
                 pushes: PushService | None = None) -> None:
        self.default = default
        self.flask_app = flask_app
        self.store = store
        self.trusted_proxies = trusted_proxies
        self.pushes = pushes  # the dispatcher's too (bridge/cli.py)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        forwarded_client(environ, self.trusted_proxies)
        path = environ.get("PATH_INFO", "")
        app = self.default
        for prefix in FLASK_PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                app = self.flask_app
        with request_scope(self.store.engine):
            return app(environ, start_response)


def max_body_bytes(settings: Settings) -> int:
    """The largest request body any door takes: a whole-calendar PUT (Radicale's default)."""
    return max(100_000_000, int(settings.get("storage", "max_object_bytes")) * 5 // 4 + 1)


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
                   "max_content_length": str(max_body_bytes(settings)),
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
        "calbridge_base_url": settings.base_url,
        "calbridge_auth_max_failures": str(settings.get("security", "auth_max_failures")),
        "calbridge_auth_failure_window": str(settings.get("security", "auth_failure_window")),
        "calbridge_auth_max_failures_per_address":
            str(settings.get("security", "auth_max_failures_per_address")),
    }}, "calbridge", privileged=True)
    return configuration


def store_settings(settings: Settings) -> StoreSettings:
    """The store's settings, read once from the configuration."""
    return StoreSettings(
        policy=IndexPolicy(
            past_days=int(settings.get("storage", "index_past_days")),
            future_days=int(settings.get("storage", "index_future_days")),
            max_per_series=int(settings.get("storage", "index_max_per_series")),
        ),
        max_object_bytes=int(settings.get("storage", "max_object_bytes")),
        property_policy=PropertyPolicy(
            max_bytes=int(settings.get("input", "max_property_bytes")),
            max_total_bytes=int(settings.get("input", "max_properties_bytes")),
            checks={AVAILABILITY_PROP: validated_schedules}),
        limits=configured_limits(settings),
    )


def open_configured_store(settings: Settings) -> CalendarStore:
    """The store built from ``settings`` (the same one for equal settings), which the Radicale
    plugin then finds by its URL."""
    configured = store_settings(settings)
    install_step_cap(configured.limits.max_recurrence_steps)
    return open_store(settings.database_url, configured)


def build_application(settings: Settings) -> PathDispatcher:
    expand.configure(int(settings.get("storage", "parse_cache_bytes")))
    store = open_configured_store(settings)
    configuration = radicale_configuration(settings)
    pushes = PushService(store, PushSettings.from_settings(settings))
    dav = CalDavGuard(CalbridgeApplication(configuration, pushes),
                      InputLimits.from_settings(settings, max_body_bytes(settings)),
                      realm=str(configuration.get("auth", "realm")))
    return PathDispatcher(dav, create_app(settings, store), store,
                          trusted_networks(settings.get("server", "trusted_proxies")), pushes)
