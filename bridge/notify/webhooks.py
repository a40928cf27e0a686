"""Webhook deliveries in the Standard Webhooks format (standardwebhooks.com).

Decisions:
- Headers ``webhook-id`` (the same on every retry of one delivery, so receivers can drop
  duplicates of an at-least-once delivery), ``webhook-timestamp`` (of this attempt) and
  ``webhook-signature`` (``v1,`` HMAC-SHA256 of ``id.timestamp.body``), signed by the
  ``standardwebhooks`` package with the endpoint's ``whsec_`` secret.
- The body is ``{"type", "timestamp", "data"}``; the data names what changed (workspace,
  calendar, event ids, the calendar's sync token after the change), not its content: a
  receiver reads the current state over the API with its own token, so a payload never shows
  more than the receiver may read, and a late retry never carries stale content.
- A 2xx answer delivers; anything else (or no answer within ``webhooks.timeout``) is retried
  with backoff. Redirects are not followed; targets are checked as push resources are.
"""

from __future__ import annotations

import datetime as dt

import requests
from standardwebhooks import Webhook

from bridge.notify.targets import TargetPolicy, TargetRefused
from bridge.store.notify import Delivery, Endpoint, Webhooks

USER_AGENT = "calbridge-webhooks/1"


def signed_headers(endpoint: Endpoint, delivery: Delivery, now: dt.datetime) -> dict[str, str]:
    timestamp = now.replace(microsecond=0)
    signature = Webhook(endpoint.secret).sign(delivery.message_id, timestamp, delivery.payload)
    return {"webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json",
            "User-Agent": USER_AGENT}


def deliver(webhooks: Webhooks, delivery: Delivery, endpoint: Endpoint, targets: TargetPolicy,
            timeout: float) -> bool:
    """One attempt; the outcome is recorded in the delivery log. True when delivered."""
    try:
        targets.check(endpoint.url)
        headers = signed_headers(endpoint, delivery, dt.datetime.now(dt.UTC))
        answer = requests.post(endpoint.url, data=delivery.payload.encode("utf-8"),
                               headers=headers, timeout=timeout, allow_redirects=False)
    except TargetRefused as exc:
        webhooks.failed(delivery, None, f"target refused: {exc}")
        return False
    except requests.RequestException as exc:
        webhooks.failed(delivery, None, f"{type(exc).__name__}: {exc}")
        return False
    if 200 <= answer.status_code < 300:
        webhooks.delivered(delivery, answer.status_code)
        return True
    webhooks.failed(delivery, answer.status_code, f"HTTP {answer.status_code}: "
                                                  f"{answer.text[:200]}")
    return False
