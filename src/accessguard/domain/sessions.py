"""Sessions: opaque random tokens, stored as digests, with idle and absolute limits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from accessguard.domain.errors import NotAuthenticated, NotFound, SessionExpired
from accessguard.domain.model import Account, AuditEvent, ClientInfo, SecondFactors, Session
from accessguard.domain.ports import Clock, SessionReads, UnitOfWorkFactory
from accessguard.domain.ports_async import SignInWrites
from accessguard.domain.recovery_cases import ActiveRecovery
from accessguard.domain.rules import Rules
from accessguard.domain.tokens import digest, new_token

# Writing last_seen_at on every request would make each read a write; a minute's precision
# is plenty for a timeout measured in tens of minutes. A short timeout is touched at a tenth
# of it, so activity never lets a session lapse much before its configured idle time.
_TOUCH_EVERY = timedelta(seconds=60)
_TOUCH_FRACTION_OF_IDLE = 10


def _presented(token: str | None) -> str:
    if not token:
        raise NotAuthenticated()
    return token


@dataclass(frozen=True)
class Authenticated:
    account: Account
    session: Session


class Sessions:
    def __init__(
        self, rules: Rules, uow: UnitOfWorkFactory, clock: Clock, reads: SessionReads
    ) -> None:
        self._rules = rules
        self._uow = uow
        self._clock = clock
        self._reads = reads

    def start(
        self,
        uow: SignInWrites,
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
        """The signed-in session behind `token`, for callers on a worker thread (the pages)."""
        with self._uow(read_only=True) as uow:
            found = uow.sessions.with_account(digest(_presented(token)))
        now = self._clock.now()
        auth = self._checked(found, now)
        if self._needs_touch(auth, now):
            with self._uow() as uow:
                uow.sessions.touch(auth.session.id, now)
        return auth

    async def authenticate_async(self, token: str | None) -> Authenticated:
        """The same check for callers on the event loop (the API), without a thread hop."""
        found = await self._reads.with_account(digest(_presented(token)))
        return await self._admitted(found)

    async def authenticate_with_factors(
        self, token: str | None
    ) -> tuple[Authenticated, SecondFactors, ActiveRecovery | None]:
        """`authenticate_async`, and the account's second factors and active lost-device case
        read with the session (the one read of GET /me)."""
        found = await self._reads.with_account_and_factors(digest(_presented(token)))
        if found is None:
            raise NotAuthenticated()
        session, account, factors, recovery = found
        return await self._admitted((session, account)), factors, recovery

    async def _admitted(self, found: tuple[Session, Account] | None) -> Authenticated:
        now = self._clock.now()
        auth = self._checked(found, now)
        if self._needs_touch(auth, now):
            await self._reads.touch(auth.session.id, now)
        return auth

    def _checked(self, found: tuple[Session, Account] | None, now: datetime) -> Authenticated:
        """The one rule for a presented session, whichever path read it."""
        if found is None:
            raise NotAuthenticated()
        session, account = found
        idle_limit = session.last_seen_at + timedelta(seconds=self._rules.session_idle_seconds)
        if session.revoked_at is not None or now >= session.expires_at or now >= idle_limit:
            raise SessionExpired()
        return Authenticated(account, session)

    def _needs_touch(self, auth: Authenticated, now: datetime) -> bool:
        idle = timedelta(seconds=self._rules.session_idle_seconds)
        return now - auth.session.last_seen_at >= min(_TOUCH_EVERY, idle / _TOUCH_FRACTION_OF_IDLE)

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
            # The revoke's own answer decides: of parallel requests that all saw the session
            # live, one ends it, and the others are told it is gone.
            if target is None or not uow.sessions.revoke(session_id, now):
                raise NotFound()
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
            if not uow.sessions.revoke(auth.session.id, now):
                return  # a parallel sign-out of this session ended it and recorded it
            uow.challenges.void_all(auth.account.id, now)
            uow.audit.record(
                AuditEvent(now, "logout", "success", auth.account.id, client.ip, client.user_agent)
            )
