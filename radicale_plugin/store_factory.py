"""Build the store from a URL; one store per database URL per process."""

from __future__ import annotations

import threading

from radicale import config as radicale_config

from radicale_plugin.engine import get_engine
from radicale_plugin.migrate import upgrade
from radicale_plugin.store import CalendarStore

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
    url = configuration.get("storage", "calbridge_database_url")
    if not url:
        folder = configuration.get("storage", "filesystem_folder")
        url = f"sqlite:///{folder}/calbridge.sqlite3"
    return open_store(url)
