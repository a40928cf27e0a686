"""calbridge settings: a TOML file, then CALBRIDGE_<SECTION>_<KEY> environment overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, dict[str, Any]] = {
    "server": {"host": "127.0.0.1", "port": 5232, "base_url": "", "threads": 8,
               "trusted_proxies": [], "workers": 1},
    "storage": {
        "data_dir": "./data",
        "database_url": "",
        "max_object_bytes": 10 * 1024 * 1024,
        "index_past_days": 366,
        "index_future_days": 732,
        "index_max_per_series": 2000,
        "parse_cache_bytes": 64 * 1024 * 1024,
    },
    "smtp": {"host": "", "port": 25, "security": "none", "username": "", "password": "",
             "from": "", "interval": 5.0, "retry_seconds": 30, "max_attempts": 12,
             "timeout": 30.0, "lease_seconds": 300},
    "security": {"auth_max_failures": 20, "auth_failure_window": 300, "auth_delay": 1.0,
                 "auth_max_failures_per_address": 200},
    # Radicale keeps sync tokens for 30 days too (its storage.max_sync_token_age).
    "maintenance": {"interval": 3600.0, "batch_size": 500, "change_log_retention_days": 30,
                    "sent_mail_retention_days": 30},
    # What one request may carry (docs/architecture.md, "Hostile input").
    "input": {
        "max_json_bytes": 1024 * 1024,
        "max_json_depth": 32,
        "max_xml_bytes": 2 * 1024 * 1024,
        "max_xml_depth": 32,
        "max_ical_line_bytes": 1024 * 1024,
        "max_ical_lines": 10_000,
        "max_property_bytes": 64 * 1024,
        "max_properties_bytes": 256 * 1024,
        "max_feed_past_days": 366,
        "max_feed_future_days": 732,
        "max_feed_instances": 50_000,
    },
    # bridge.core.limits.Limits documents each bound; defaults near Radicale 3.9's.
    "limits": {"max_instances": 10_000, "max_instances_per_request": 10_000,
               "max_list_days": 3660, "max_freebusy_days": 366,
               "max_recurrence_steps": 200_000},
    "logging": {"level": "warning"},
    # Change notifications (docs/architecture.md, "Change notifications").
    "push": {"interval": 1.0, "vapid_subject": "", "allow_private_targets": False,
             "require_https": True, "default_expiry_days": 30, "max_expiry_days": 90,
             "ttl": 86400, "timeout": 10.0},
    "webhooks": {"allow_private_targets": False, "require_https": True, "timeout": 10.0,
                 "retry_seconds": 10, "max_attempts": 12, "disable_after_failures": 50,
                 "lease_seconds": 120, "delivered_retention_days": 30},
}


@dataclass(frozen=True)
class Settings:
    values: dict[str, dict[str, Any]]
    source: Path | None = None

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def host(self) -> str:
        return str(self.get("server", "host"))

    @property
    def port(self) -> int:
        return int(self.get("server", "port"))

    @property
    def base_url(self) -> str:
        return str(self.get("server", "base_url")) or f"http://{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        path = Path(str(self.get("storage", "data_dir")))
        if not path.is_absolute() and self.source is not None and \
                os.environ.get("CALBRIDGE_STORAGE_DATA_DIR") is None:
            # Relative to the working directory, as `make run` expects ./data.
            path = Path.cwd() / path
        return path.resolve()

    @property
    def database_url(self) -> str:
        url = str(self.get("storage", "database_url"))
        return url or f"sqlite:///{self.data_dir / 'calbridge.sqlite3'}"

    def with_overrides(self, section: str, **values: Any) -> Settings:
        merged = {s: dict(v) for s, v in self.values.items()}
        merged[section].update({k: v for k, v in values.items() if v is not None})
        return Settings(merged, self.source)


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None
                  ) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    path = path or environ.get("CALBRIDGE_CONFIG")
    values = {section: dict(keys) for section, keys in DEFAULTS.items()}
    source = None
    if path:
        source = Path(path)
        with open(source, "rb") as handle:
            data = tomllib.load(handle)
        for section, keys in data.items():
            if section not in values or not isinstance(keys, dict):
                raise ValueError(f"unknown section [{section}] in {source}")
            for key, value in keys.items():
                if key not in values[section]:
                    raise ValueError(f"unknown key {section}.{key} in {source}")
                values[section][key] = value
    for section, keys in values.items():
        for key, default in list(keys.items()):
            raw = environ.get(f"CALBRIDGE_{section}_{key}".upper())
            if raw is not None:
                keys[key] = _coerce(default, raw)
    return Settings(values, source)
