"""Registration and email verification. Both answer alike whether or not an address is known:
registration hashes, tries the insert and queues one request on every path, a resend queues
one request; what depends on the address is carried out later (deferred.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from accessguard.domain import notifications
from accessguard.domain.deferred import Asked, deferred
from accessguard.domain.emails import email_key, is_plain, normalise_email
from accessguard.domain.errors import ValidationFailed, VerificationTokenInvalid
from accessguard.domain.model import Account, AuditEvent, ClientInfo, SecondFactors
from accessguard.domain.passwords_change import FINISH, reset_link
from accessguard.domain.ports import UnitOfWork
from accessguard.domain.tokens import digest, new_token
from accessguard.domain.usecase import PasswordUseCase

VERIFY = "verify_email"
PLAIN_ONLY = "must be typed in ordinary characters, not full-width or other special forms"
# The kinds of deferred request.
REGISTERED = "registered"
RESEND = "resend_verification"


class Accounts(PasswordUseCase):
    def register(
        self,
        email: str,
        password: str,
        client: ClientInfo,
        *,
        verified: bool = False,
        role: str = "customer",
        by_operator: bool = False,
    ) -> Account | None:
        """The new account, or None when the address was taken (its owner is told).

        `by_operator`: an operator's command, not a client; no per-address limit applies.
        """
        if not is_plain(email):
            raise ValidationFailed(fields=[{"field": "email", "message": PLAIN_ONLY}])
        prepared = self.policy.check(password, email)
        now = self.clock.now()
        if not by_operator:
            self.throttle.hit("register", client.ip, now)
        password_hash = self.hasher.hash(prepared)
        # Counted before the transaction: the counter may live in this same SQLite database.
        mail_allowed = self.throttle.recipient_allows("register", email_key(email), now)
        account = Account(
            id=str(uuid.uuid4()),
            email=normalise_email(email),
            email_key=email_key(email),
            password_hash=password_hash,
            email_verified_at=now if verified else None,
            created_at=now,
            role=role,
        )
        with self.uow() as uow:
            created = uow.accounts.add(account)
            # The same two writes whether or not the address was taken; `answer_registration`
            # sends the confirmation link or tells the owner, later (deferred.py). An operator
            # told "exists already" has nothing to tell the owner, and no timing to hide.
            if created or not by_operator:
                facts = {"created": account.id if created else None, "mail": mail_allowed}
                uow.outbox.add(deferred(REGISTERED, email, client, now, **facts), now)
        return account if created else None

    def answer_registration(self, request: Asked) -> None:
        """A registration carried out: a confirmation link for the account it created;
        for an address that was taken, a note to its owner, or to an unconfirmed one a link
        to choose the password (`_offer_to_finish`), unless its inbox is over its limit."""
        created: str | None = request.facts.get("created")
        unusable = None
        if created is None and request.facts.get("mail"):
            with self.uow(read_only=True) as uow:
                taken = uow.accounts.by_email_key(email_key(request.email))
            if taken is not None and not taken.email_verified:
                # For `_offer_to_finish`, hashed outside the transaction (Argon2 holds no locks).
                unusable = self.hasher.hash(new_token()[0])
        now = self.clock.now()
        with self.uow() as uow:
            account = uow.accounts.by_email_key(email_key(request.email))
            if created is not None:
                if account is not None and account.id == created and not account.email_verified:
                    self._send_verification(uow, account)
            elif account is not None and request.facts.get("mail"):
                if account.email_verified:
                    uow.outbox.add(notifications.already_registered(account), now)
                elif unusable is not None:
                    self._offer_to_finish(uow, account, unusable)
            uow.audit.record(
                AuditEvent(
                    request.at,
                    "register",
                    "success" if created else "email_taken",
                    created or (account.id if account else None),
                    request.client.ip,
                    request.client.user_agent,
                )
            )

    def verify_email(self, token: str, client: ClientInfo) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            account_id = uow.tokens.consume(VERIFY, digest(token), now)
            if account_id is None:
                # A link followed again (Back, a second click, another device) whose
                # address is confirmed already: done, not "invalid". Its holder had the link.
                if _confirmed_already(uow, token):
                    return
            else:
                uow.accounts.mark_verified(account_id, now)
                uow.audit.record(
                    AuditEvent(
                        now,
                        "email_verified",
                        "success",
                        account_id,
                        client.ip,
                        client.user_agent[:300],
                    )
                )
        if account_id is None:
            raise VerificationTokenInvalid()

    def confirmed_already(self, token: str) -> bool:
        """Whether the address this confirmation link was sent to is confirmed: the link's
        page then says so instead of offering to confirm it again."""
        with self.uow(read_only=True) as uow:
            return _confirmed_already(uow, token)

    def resend_verification(self, email: str, client: ClientInfo) -> None:
        """Queued, the same on every path: `send_verification_again` looks the address up."""
        now = self.clock.now()
        self.throttle.hit("resend", client.ip, now)
        if not self.throttle.recipient_allows("resend", email_key(email), now):
            return
        with self.uow() as uow:
            uow.outbox.add(deferred(RESEND, email, client, now), now)

    def send_verification_again(self, request: Asked) -> None:
        """A resend request carried out: a new link to an unconfirmed account's address (the
        older ones void), a note to a confirmed one's, and to any other that there is none."""
        now = self.clock.now()
        with self.uow() as uow:
            account = uow.accounts.by_email_key(email_key(request.email))
            if account is None:
                uow.outbox.add(notifications.unknown_account(request.email, "verify"), now)
            elif account.email_verified:
                uow.outbox.add(notifications.already_verified(account), now)
            elif uow.tokens.any_usable(FINISH, account.id, now):
                # A second sign-up voided the first password: a confirmation would confirm an
                # account nobody can sign in to. The link to choose the password again.
                link, expires_at = reset_link(uow, self.rules, account.id, now, finish=True)
                uow.outbox.add(notifications.finish_registration(account, link, expires_at), now)
            else:
                self._send_verification(uow, account)

    def _offer_to_finish(self, uow: UnitOfWork, account: Account, unusable_hash: str) -> None:
        """An unconfirmed account registered again: a link to choose its password.

        Never a confirmation link, and never the new password: whoever registered first
        (perhaps an attacker who knew the address) would otherwise own the account once its
        owner confirmed it. The link goes to the inbox, so its owner sets the password, which
        also confirms the address (passwords_change.Passwords.reset). The first registrant's
        password stops working here (the hash of a secret nobody keeps), so no confirmation
        link can hand them the account: not an earlier one (void too), not a resend's, not
        one from a parallel sign-up carried out after this.
        """
        now = self.clock.now()
        uow.accounts.set_password(account.id, unusable_hash)
        uow.tokens.void_all(VERIFY, account.id, now)
        link, expires_at = reset_link(uow, self.rules, account.id, now, finish=True)
        uow.outbox.add(notifications.finish_registration(account, link, expires_at), now)

    def _send_verification(self, uow: UnitOfWork, account: Account) -> None:
        now = self.clock.now()
        plain, token_digest = new_token()
        expires_at = now + timedelta(seconds=self.rules.verify_token_seconds)
        uow.tokens.void_all(VERIFY, account.id, now)
        uow.tokens.add(VERIFY, account.id, token_digest, expires_at, now)
        link = self.rules.link("/verify-email", plain)
        uow.outbox.add(notifications.verify_email(account, link, expires_at), now)

    def second_factors(self, account_id: str) -> SecondFactors:
        """The account's second factors, as GET /me and the account page show them."""
        with self.uow(read_only=True) as uow:
            return uow.accounts.second_factors(account_id)


def _confirmed_already(uow: UnitOfWork, token: str) -> bool:
    issued_to = uow.tokens.issued_to(VERIFY, digest(token))
    account = uow.accounts.get(issued_to) if issued_to else None
    return account is not None and account.email_verified
