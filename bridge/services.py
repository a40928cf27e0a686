"""What the Flask app is handed at creation: the store and the services over it (built once,
by bridge.app.create_app)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from bridge.config import Settings
from bridge.notify.service import WebhookSettings
from bridge.service.events import EventService
from bridge.service.instances import InstanceService
from bridge.service.scheduling import RsvpLinks
from bridge.store.accounts import Accounts
from bridge.store.notify import Webhooks
from bridge.store.store import CalendarStore
from bridge.store.throttle import LoginThrottle


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: CalendarStore
    accounts: Accounts
    throttle: LoginThrottle
    events: EventService
    instances: InstanceService
    webhooks: Webhooks
    webhook_settings: WebhookSettings
    rsvp_links: RsvpLinks


def services() -> Services:
    return current_app.extensions["calbridge"]
