"""Sessions: opaque random tokens, stored as digests, with idle and absolute limits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from accessguard.domain.errors import NotAuthenticated, NotFound, SessionExpired
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Session
from accessguard.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from accessguard.domain.rules import Rules
from accessguard.domain.tokens import digest, new_token

# Writing last_seen_at on every request would make each read a write; a minute's precision
# is plenty for a timeout measured in tens of minutes.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Authenticated:
    account: Account
    session: Session


class Sessions:
    def __init__(self, rules: Rules, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock

    def start(
        self,
        uow: UnitOfWork,
        account_id: str,
        client: ClientInfo,
        now: datetime,
        second_factor: str | None = None,
    ) -> tuple[str, Session]:
        """A brand-new token: never one the client brought (no session fixation)."""
        plain, token_digest = new_token()
        session = Session(
            id=str(uuid.uuid4()),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=self._rules.session_max_seconds),
            ip=client.ip,
            user_agent=client.user_agent[:300],
            second_factor=second_factor,
        )
        uow.sessions.add(session, token_digest)
        return plain, session

    def authenticate(self, token: str | None) -> Authenticated:
        if not token:
            raise NotAuthenticated()
        now = self._clock.now()
        with self._uow(read_only=True) as uow:
            found = uow.sessions.with_account(digest(token))
        if found is None:
            raise NotAuthenticated()
        session, account = found
        idle_limit = session.last_seen_at + timedelta(seconds=self._rules.session_idle_seconds)
        if session.revoked_at is not None or now >= session.expires_at or now >= idle_limit:
            raise SessionExpired()
        if now - session.last_seen_at >= _TOUCH_EVERY:
            with self._uow() as uow:
                uow.sessions.touch(session.id, now)
        return Authenticated(account, session)

    def list(self, account_id: str) -> list[Session]:
        with self._uow(read_only=True) as uow:
            return uow.sessions.list_active(account_id, self._clock.now())

    def revoke(self, auth: Authenticated, session_id: str, client: ClientInfo) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            target = next(
                (s for s in uow.sessions.list_active(auth.account.id, now) if s.id == session_id),
                None,
            )
            if target is None:
                raise NotFound()
            uow.sessions.revoke(session_id, now)
            uow.audit.record(
                AuditEvent(
                    now,
                    "session_revoked",
                    "success",
                    auth.account.id,
                    client.ip,
                    client.user_agent,
                    {"session_id": session_id},
                )
            )

    def logout(self, auth: Authenticated, client: ClientInfo) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            uow.sessions.revoke(auth.session.id, now)
            uow.challenges.void_all(auth.account.id, now)
            uow.audit.record(
                AuditEvent(now, "logout", "success", auth.account.id, client.ip, client.user_agent)
            )
