"""Identity as pages, `ui/` and HTTP routes reach it: one object that holds the database, so none of them does.

Each method is the module function of the same name (approvals.identity.accounts, sessions, throttle,
api_tokens) with the database filled in; the rules stay in those modules, which the CLI, the scheduler and tests
call with a database of their own. The service carries one as `service.identity`.
"""

from __future__ import annotations

from datetime import datetime

from approvals.core.actors import Actor
from approvals.identity import accounts, api_tokens, sessions, throttle
from approvals.store.database import Database


class Identity:
    """Accounts, browser sessions, sign-in and API tokens, on one database."""

    def __init__(self, db: Database):
        self._db = db

    def demo_mode(self) -> bool:
        return accounts.demo_mode(self._db)

    def get_account(self, username: str) -> accounts.Account | None:
        return accounts.get_account(self._db, username)

    def remember_signed_in(self, actor: Actor, email: str) -> None:
        accounts.remember_signed_in(self._db, actor, email)

    def actor_for(self, token: str | None) -> Actor | None:
        return sessions.actor_for(self._db, token)

    def actor_or_start(self, token: str | None) -> Actor | None:
        return sessions.actor_or_start(self._db, token)

    def needs_new_token(self, token: str | None) -> bool:
        return sessions.needs_new_token(self._db, token)

    def begin_sign_in(self, token: str | None, username: str, password: str, *, client: str = "",
                      device: str | None = None) -> str:
        return sessions.begin_sign_in(self._db, token, username, password, client=client, device=device)

    def finish_sign_in(self, token: str | None, code: str, device: str | None = None) -> tuple[str, str] | None:
        return sessions.finish_sign_in(self._db, token, code, device)

    def sign_out(self, token: str | None) -> None:
        sessions.sign_out(self._db, token)

    def accounts_under_attack(self, now: datetime) -> list[tuple[str, int]]:
        return throttle.accounts_under_attack(self._db, now)

    def create_token(self, username: str, label: str = "") -> tuple[api_tokens.ApiToken, str]:
        return api_tokens.create_token(self._db, username, label)

    def list_tokens(self, username: str | None = None) -> list[api_tokens.ApiToken]:
        return api_tokens.list_tokens(self._db, username)

    def revoke_token(self, token_id: str, owner: str | None = None) -> None:
        api_tokens.revoke_token(self._db, token_id, owner)

    def actor_for_token(self, secret: str) -> Actor | None:
        return api_tokens.actor_for_token(self._db, secret)
