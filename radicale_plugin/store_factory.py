"""Build the store of a database URL, once per URL and settings per process.

Decisions:
- The composition root (``bridge.wsgi``, the CLI) builds the store from explicit
  ``StoreSettings``; the Radicale plugin, which only has Radicale's configuration, then finds
  that same store by its URL (``store_from_radicale_config``). Without a configured store it
  gets one with the default settings.
- A store is never changed after it is built: other settings for the same URL build a new
  store, which later look-ups of the URL find.
- The schema is migrated once per URL, before the first store of it is handed out.
"""

from __future__ import annotations

import threading

from radicale import config as radicale_config

from bridge.store.engine import Database, get_engine
from bridge.store.migrate import upgrade
from bridge.store.records import StoreSettings
from bridge.store.store import CalendarStore
from bridge.store.throttle import LoginThrottle, ThrottlePolicy

_stores: dict[str, CalendarStore] = {}
_lock = threading.Lock()


def open_store(database_url: str, settings: StoreSettings | None = None) -> CalendarStore:
    """The store of ``database_url``, its schema migrated to the newest revision: built from
    ``settings`` when given (unless the current one has equal settings), else the one already
    opened for the URL (or one with the default settings)."""
    with _lock:
        store = _stores.get(database_url)
        if store is not None and (settings is None or store.settings == settings):
            return store
        engine = get_engine(database_url)
        if store is None:
            upgrade(engine)
        store = CalendarStore(Database(engine), settings)
        _stores[database_url] = store
        return store


def database_url_from_radicale_config(configuration: radicale_config.Configuration) -> str:
    try:
        url = configuration.get("storage", "calbridge_database_url")
    except KeyError:
        url = ""
    if not url:
        folder = configuration.get("storage", "filesystem_folder")
        url = f"sqlite:///{folder}/calbridge.sqlite3"
    return str(url)


def store_from_radicale_config(configuration: radicale_config.Configuration) -> CalendarStore:
    return open_store(database_url_from_radicale_config(configuration))


def throttle_from_radicale_config(configuration: radicale_config.Configuration) -> LoginThrottle:
    def option(name: str, default: int) -> int:
        try:
            return int(configuration.get("storage", name))
        except KeyError:
            return default

    return LoginThrottle(store_from_radicale_config(configuration).db, ThrottlePolicy(
        max_failures=option("calbridge_auth_max_failures", 20),
        window_seconds=option("calbridge_auth_failure_window", 300),
        max_failures_per_address=option("calbridge_auth_max_failures_per_address", 200)))
