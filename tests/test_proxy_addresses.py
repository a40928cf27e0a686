"""The client address behind trusted proxies (bridge/wsgi.py): a pure function of the
request environment, tested here without a server (test_login_throttle shows it on both
doors of a real one)."""

from __future__ import annotations

import pytest

from bridge.wsgi import forwarded_client, trusted_networks

TRUSTED = trusted_networks(["10.0.0.1", "192.168.0.0/16"])


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("10.0.0.1", "203.0.113.7", "203.0.113.7"),                 # one trusted proxy
    ("192.168.4.4", "203.0.113.7, 10.0.0.1", "203.0.113.7"),    # a chain of trusted proxies
    ("10.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),   # the client's own entry
    ("10.0.0.1", "garbage", "10.0.0.1"),                        # nothing a proxy writes
    ("10.0.0.1", "", "10.0.0.1"),
    ("203.0.113.9", "203.0.113.7", "203.0.113.9"),              # untrusted peer: ignored
    ("10.0.0.2", "203.0.113.7", "10.0.0.2"),
])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
        peer: str, forwarded: str, client: str) -> None:
    environ = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": forwarded}
    forwarded_client(environ, TRUSTED)
    assert environ["REMOTE_ADDR"] == client


def test_an_untrusted_peers_proxy_headers_are_dropped() -> None:
    environ = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "10.9.9.9",
               "HTTP_X_FORWARDED_PROTO": "https", "HTTP_FORWARDED": "for=10.9.9.9"}
    forwarded_client(environ, TRUSTED)
    assert environ == {"REMOTE_ADDR": "203.0.113.9"}


def test_without_trusted_proxies_nobody_is_believed() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    forwarded_client(environ, trusted_networks([]))
    assert environ == {"REMOTE_ADDR": "10.0.0.1"}
