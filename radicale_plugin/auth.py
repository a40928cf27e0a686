"""Radicale auth plugin: ``[auth] type = radicale_plugin.auth`` checks users of the store."""

from __future__ import annotations

from radicale import auth as radicale_auth
from radicale import config as radicale_config

from radicale_plugin.accounts import Accounts
from radicale_plugin.store_factory import store_from_radicale_config


class Auth(radicale_auth.BaseAuth):
    def __init__(self, configuration: radicale_config.Configuration) -> None:
        super().__init__(configuration)
        self._accounts = Accounts(store_from_radicale_config(configuration))

    def _login(self, login: str, password: str) -> str:
        user = self._accounts.check_password(login, password)
        return user.username if user else ""
