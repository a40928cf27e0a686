"""Radicale auth plugin: ``[auth] type = radicale_plugin.auth``.

A password or an API token (as the Basic-auth password) is turned into an AccessPolicy by
``bridge.store.access``; the rights plugin reads that policy for the rest of the request.
"""

from __future__ import annotations

from radicale import auth as radicale_auth
from radicale import config as radicale_config

from bridge.store.access import authenticate, caldav_refusal, current_policy
from bridge.store.accounts import Accounts
from radicale_plugin.internals import check_radicale
from radicale_plugin.store_factory import store_from_radicale_config, throttle_from_radicale_config


class Auth(radicale_auth.BaseAuth):
    def __init__(self, configuration: radicale_config.Configuration) -> None:
        check_radicale()
        super().__init__(configuration)
        self._store = store_from_radicale_config(configuration)
        self._accounts = Accounts(self._store)
        self._throttle = throttle_from_radicale_config(configuration)

    def _login_ext(self, login: str, password: str, context: radicale_auth.AuthContext) -> str:
        policy = authenticate(self._accounts, login, password)
        if policy is None:
            self._throttle.record_failure(self._throttle.keys(context.remote_addr, login))
            return ""
        refusal = policy.caldav_refusal()
        if refusal is not None:  # a valid credential: not a failed login, but not for CalDAV
            caldav_refusal.set(refusal)
            return ""
        current_policy.set(policy)
        if policy.token is not None and self._store.get_collection(policy.user.username) is None:
            # Radicale creates a home only for a login that may write it (a password's).
            self._store.create_collection(policy.user.username)
        return policy.user.username
