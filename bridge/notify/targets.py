"""Where the server may send HTTP requests of its own (push resources, webhook endpoints).

Decisions:
- A target is refused unless it is http(s) with a host; https only unless configured; and
  every address its host resolves to must be public (not loopback, private, link-local,
  multicast, reserved or unspecified) unless private targets are allowed by configuration, so a
  client cannot make the server probe its own network (SSRF).
- The check runs when a target is registered and again before every request (the name may
  resolve elsewhere by then); requests never follow redirects.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass


class TargetRefused(ValueError):
    """A URL the server will not send requests to; the message says why."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool = False
    require_https: bool = True

    def check(self, url: str) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise TargetRefused(f"not a valid URL: {exc}") from exc
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise TargetRefused("the URL must be http(s) with a host")
        if parts.scheme != "https" and self.require_https:
            raise TargetRefused("the URL must use https")
        if parts.username or parts.password:
            raise TargetRefused("the URL must not carry credentials")
        if self.allow_private:
            return
        try:
            infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise TargetRefused(f"{parts.hostname} does not resolve") from exc
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if not address.is_global or address.is_multicast:
                raise TargetRefused(f"{parts.hostname} resolves to a non-public address "
                                    f"({address})")
