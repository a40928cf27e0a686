"""Build the store from a URL; one store per database URL per process."""

from __future__ import annotations

import threading

from radicale import config as radicale_config

from bridge.store.engine import get_engine
from bridge.store.migrate import upgrade
from bridge.store.store import CalendarStore
from bridge.store.throttle import LoginThrottle, ThrottlePolicy

_stores: dict[str, CalendarStore] = {}
_lock = threading.Lock()


def open_store(database_url: str) -> CalendarStore:
    """The store of ``database_url``, its schema migrated to the newest revision."""
    with _lock:
        store = _stores.get(database_url)
        if store is None:
            engine = get_engine(database_url)
            upgrade(engine)
            store = CalendarStore(engine)
            _stores[database_url] = store
        return store


def store_from_radicale_config(configuration: radicale_config.Configuration) -> CalendarStore:
    try:
        url = configuration.get("storage", "calbridge_database_url")
    except KeyError:
        url = ""
    if not url:
        folder = configuration.get("storage", "filesystem_folder")
        url = f"sqlite:///{folder}/calbridge.sqlite3"
    return open_store(url)


def throttle_from_radicale_config(configuration: radicale_config.Configuration) -> LoginThrottle:
    def option(name: str, default: int) -> int:
        try:
            return int(configuration.get("storage", name))
        except KeyError:
            return default

    return LoginThrottle(store_from_radicale_config(configuration), ThrottlePolicy(
        max_failures=option("calbridge_auth_max_failures", 20),
        window_seconds=option("calbridge_auth_failure_window", 300),
        max_failures_per_address=option("calbridge_auth_max_failures_per_address", 200)))
