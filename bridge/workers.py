"""`calbridge serve --workers N`: N processes on one store, past the GIL.

Decisions:
- gunicorn runs them (its master binds the socket, forks the workers, restarts a worker that
  dies, and stops them all on SIGTERM), rather than a hand-written pre-fork loop. Its `gthread`
  worker serves `server.threads` requests at once per process, as waitress does in one.
- Each worker builds its own application after the fork (no database connection, cache or
  thread crosses a fork); caches are per process and keyed by what the store says (revisions,
  etags), so a change made through one worker is seen by the others on their next request.
- Each worker runs the outbox sender and the maintenance thread too: both claim their work in
  the database (leases, row locks), as they do when `calbridge maintenance` runs from cron
  beside a server, so N of them never send a message twice or undo each other.
- Proxy headers are the dispatcher's (`server.trusted_proxies`, bridge/wsgi.py): gunicorn is
  told to trust no forwarded header itself, as waitress is.
- Request bodies are bounded by the doors' guard (`bridge/guard.py`: a declared length over the
  bound is 413 before reading, a chunked body is read up to it), not by the WSGI server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gunicorn.app.base import BaseApplication

from bridge.config import Settings

if TYPE_CHECKING:
    from bridge.wsgi import PathDispatcher


class WorkerServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings, workers: int,
                 on_worker_start: Callable[[PathDispatcher], None] | None = None) -> None:
        self.settings = settings
        self.workers = workers
        self.on_worker_start = on_worker_start
        super().__init__()

    def load_config(self) -> None:
        settings = self.settings
        options = {
            "bind": [f"{settings.host}:{settings.port}"],
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": int(settings.get("server", "threads")),
            "forwarded_allow_ips": "",  # the dispatcher decides which proxies to believe
            "proxy_allow_ips": "",
            "timeout": 120,  # a whole-calendar import over a slow link must not be killed
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "calbridge",
        }
        for key, value in options.items():
            self.cfg.set(key, value)
        if self.on_worker_start is not None:
            start = self.on_worker_start
            self.cfg.set("post_worker_init", lambda worker: start(worker.wsgi))

    def load(self) -> PathDispatcher:
        from bridge.wsgi import build_application  # in the worker, after the fork

        return build_application(self.settings)
