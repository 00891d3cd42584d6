"""Forgot, reset and change: every route that replaces a password, and what must follow it."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from accessguard.domain import notifications
from accessguard.domain.deferred import Asked, deferred
from accessguard.domain.emails import email_key
from accessguard.domain.errors import (
    AccessError,
    InvalidCredentials,
    PasswordUnchanged,
    ResetTokenInvalid,
    SessionExpired,
)
from accessguard.domain.lockout import Lockout, device_subject, email_subject
from accessguard.domain.model import Account, AuditEvent, ClientInfo
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import UnitOfWork
from accessguard.domain.recovery_cases import cancelled_notice, case_event
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Authenticated
from accessguard.domain.tokens import digest, new_token
from accessguard.domain.usecase import PasswordUseCase

RESET = "password_reset"
FINISH = "finish_registration"  # a reset link's purpose when a second sign-up sent it
LinkState = Literal["reset", "finish"]
FORGOT = "forgot_password"  # the deferred request's kind


def reset_link(
    uow: UnitOfWork, rules: Rules, account_id: str, now: datetime, *, finish: bool = False
) -> tuple[str, datetime]:
    """A new single-use link to choose the account's password, and when it expires; the
    older links are void. `finish`: the link of a second sign-up (accounts._offer_to_finish),
    which sets the first password of an account that never signed in, and lasts as long as
    the confirmation link it replaces (the sign-up's answer names that lifetime)."""
    plain, token_digest = new_token()
    purpose, lifetime = (FINISH, rules.verify_token_seconds) if finish else (RESET, None)
    expires_at = now + timedelta(seconds=lifetime or rules.reset_token_seconds)
    for older in (RESET, FINISH):
        uow.tokens.void_all(older, account_id, now)
    uow.tokens.add(purpose, account_id, token_digest, expires_at, now)
    return rules.link("/reset-password", plain), expires_at


@dataclass(frozen=True)
class UsableLink:
    """A link that can still set a password: "reset" for a forgotten one, "finish" when a
    second sign-up sent it, to set the first password of an account that never signed in;
    and the account's address, which the page gives password managers as the username."""

    state: LinkState
    email: str


@dataclass(frozen=True)
class Passwords(PasswordUseCase):
    lockout: Lockout

    def forgot(self, email: str, client: ClientInfo) -> None:
        """Queued, the same on every path: `send_reset_link` looks the address up (deferred.py)."""
        now = self.clock.now()
        self.throttle.hit("forgot", client.ip, now)
        if not self.throttle.recipient_allows("forgot", email_key(email), now):
            return  # the links already sent stay valid; nothing more goes to that inbox
        with self.uow() as uow:
            uow.outbox.add(deferred(FORGOT, email, client, now), now)

    def send_reset_link(self, request: Asked) -> None:
        """A forgot-password request carried out: a reset link to an account's address, a
        note that there is no account to any other."""
        now = self.clock.now()
        with self.uow() as uow:
            account = uow.accounts.by_email_key(email_key(request.email))
            if account is None:
                uow.outbox.add(notifications.unknown_account(request.email, "reset"), now)
            else:
                link, expires_at = reset_link(uow, self.rules, account.id, now)
                uow.outbox.add(notifications.password_reset(account, link, expires_at), now)
            uow.audit.record(
                AuditEvent(
                    request.at,
                    "password_reset_requested",
                    "unknown_account" if account is None else "success",
                    account.id if account else None,
                    request.client.ip,
                    request.client.user_agent,
                )
            )

    def usable_link(self, token: str) -> UsableLink | None:
        """What the link does, claiming nothing; None when it cannot be used."""
        link = self._link(token)
        return UsableLink(link[0], link[1].email) if link else None

    def _link(self, token: str) -> tuple[LinkState, Account] | None:
        """What a usable link does, and the account it is for."""
        now = self.clock.now()
        states: tuple[tuple[str, LinkState], ...] = ((RESET, "reset"), (FINISH, "finish"))
        with self.uow(read_only=True) as uow:
            for purpose, state in states:
                account_id = uow.tokens.usable_owner(purpose, digest(token), now)
                account = uow.accounts.get(account_id) if account_id else None
                if account is not None:
                    return state, account
        return None

    def reset(self, token: str, new_password: str, client: ClientInfo) -> LinkState:
        """Checked before the token is claimed, so a refused password leaves the link usable.

        A token that cannot be used is refused before the hash: otherwise anyone could make
        the server spend an Argon2 hash per request with made-up tokens. The claim below
        still decides, atomically, which of several parallel uses wins.
        """
        link = self._link(token)
        if link is None:
            raise ResetTokenInvalid()
        # The policy as at registration: a new password made of the address is refused.
        state, owner = link
        prepared = self.policy.check(new_password, owner.email)
        if state == "reset" and self.hasher.verify(owner.password_hash, prepared):
            # Whoever may know the current password could sign in again after the reset
            # ended every session. (A link that finishes a sign-up sets a first password.)
            raise PasswordUnchanged()
        new_hash = self.hasher.hash(prepared)
        now = self.clock.now()
        with self.uow() as uow:
            purpose = FINISH if state == "finish" else RESET
            account_id = uow.tokens.consume(purpose, digest(token), now)
            account = uow.accounts.get(account_id) if account_id else None
            if account is not None:
                if not account.email_verified:
                    # The link came to this inbox: that proves the address as well.
                    uow.accounts.mark_verified(account.id, now)
                if state == "finish":
                    # The account never signed in: nothing to hold, no one to warn. Its owner
                    # just chose its first password.
                    self._replace(uow, account, new_hash, client, now, how="set")
                else:
                    hold = now + timedelta(seconds=self.rules.security_hold_seconds)
                    self._replace(uow, account, new_hash, client, now, how="reset", hold=hold)
                    uow.accounts.set_security_hold(account.id, hold)
                uow.sessions.revoke_all(account.id, now)
                # A lost-device case rested on knowing the old password; whoever reset it
                # has shown the inbox instead, so the case waits on nothing now (its owner
                # can open a new one). Left running, it would strip 2FA from the new password.
                case = uow.recovery_cases.cancel_active(account.id, now)
                if case is not None:
                    uow.outbox.add(cancelled_notice(account, case, now, by=RESET), now)
                    uow.audit.record(case_event(case, "recovery_cancelled", client, now, by=RESET))
                subjects = [email_subject(account.email_key)]
                subjects += [device_subject(d) for d in uow.devices.ids_for(account.id)]
                uow.lockouts.unlock(subjects)
        if account is None:
            raise ResetTokenInvalid()
        return state

    def change(
        self, auth: Authenticated, current: str, new_password: str, client: ClientInfo
    ) -> None:
        now = self.clock.now()
        account = auth.account
        self._check_current(account, current, client, now)
        prepared = self.policy.check(new_password, account.email)
        if hmac.compare_digest(prepared.encode(), prepare(current).encode()):
            raise PasswordUnchanged()
        new_hash = self.hasher.hash(prepared)
        with self.uow() as uow:
            # The hashes took a while: a reset, a sign-out or another change may have come
            # first. This change stands only if its session is still live and the password it
            # checked is still the stored one, or a session the owner just ended (an
            # attacker's, say) could set the password after the owner's reset.
            live = any(s.id == auth.session.id for s in uow.sessions.list_active(account.id, now))
            if not live:
                raise SessionExpired()
            if not uow.accounts.replace_password(account.id, account.password_hash, new_hash):
                raise InvalidCredentials()  # the current password is no longer this one
            self._replace(uow, account, new_hash, client, now, how="change")
            uow.sessions.revoke_all(account.id, now, except_id=auth.session.id)

    def _check_current(
        self, account: Account, current: str, client: ClientInfo, now: datetime
    ) -> None:
        def refusal() -> AccessError | None:
            matches = self.hasher.verify(account.password_hash, prepare(current))
            return None if matches else InvalidCredentials()

        self.lockout.guard_owner_secret(self.uow, account, client, now, "password_change", refusal)

    def _replace(
        self,
        uow: UnitOfWork,
        account: Account,
        new_hash: str,
        client: ClientInfo,
        now: datetime,
        how: str,
        hold: datetime | None = None,
    ) -> None:
        """`hold`: until when withdrawals are held, for the owner's mail (a reset holds)."""
        if how != "change":  # a change has replaced it already, if still the one checked
            uow.accounts.set_password(account.id, new_hash)
        for link in (RESET, FINISH):
            uow.tokens.void_all(link, account.id, now)
        # A sign-in half-finished with the old password must not finish after the change.
        uow.challenges.void_all(account.id, now)
        if how != "set":
            notice = notifications.password_changed(account, client, now, how, hold)
            uow.outbox.add(notice, now)
        uow.audit.record(
            AuditEvent(
                now, f"password_{how}", "success", account.id, client.ip, client.user_agent[:300]
            )
        )
