"""Change notifications to the outside: WebDAV-Push messages and signed webhooks, both fed
by the notices the one write path leaves (bridge/store/notify.py)."""
