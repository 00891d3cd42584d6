"""What to tell whom: message intents. Rendering and delivery belong to `notify`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accessguard.domain.model import Account, ClientInfo, Message


def _email(account: Account | None, to: str, template: str, **data: Any) -> Message:
    if account is not None:
        data["anti_phishing_phrase"] = account.anti_phishing_phrase
    return Message("email", to, template, data, account.id if account else None)


def _link_email(account: Account, template: str, link: str, expires_at: datetime) -> Message:
    """A mail whose point is one single-use link, with when it expires."""
    expires = expires_at.isoformat(timespec="minutes")
    return _email(account, account.email, template, link=link, expires_at=expires)


def verify_email(account: Account, link: str, expires_at: datetime) -> Message:
    return _link_email(account, "verify_email", link, expires_at)


def already_registered(account: Account) -> Message:
    return _email(account, account.email, "already_registered")


def finish_registration(account: Account, link: str, expires_at: datetime) -> Message:
    return _link_email(account, "finish_registration", link, expires_at)


def already_verified(account: Account) -> Message:
    return _email(account, account.email, "already_verified")


def unknown_account(email: str, action: str) -> Message:
    # Sent instead of nothing, so that a request for an unknown address does the same work
    # and takes the same time as one for a real account (allauth's unknown_account mails).
    return _email(None, email, "unknown_account", action=action)


def password_reset(account: Account, link: str, expires_at: datetime) -> Message:
    return _link_email(account, "password_reset", link, expires_at)


def _seen_from(
    account: Account, template: str, client: ClientInfo, at: datetime, **data: Any
) -> Message:
    """A mail to the owner about something done from a client: its address, device and time."""
    seen = {"ip": client.ip, "user_agent": client.user_agent[:200]}
    return _email(
        account, account.email, template, **seen, at=at.isoformat(timespec="minutes"), **data
    )


def second_step_failed(account: Account, client: ClientInfo, at: datetime, until: str) -> Message:
    """The password was typed right, then wrong codes until the sign-in locked: whoever did
    it may know the password, which only its owner can change."""
    return _seen_from(account, "second_step_failed", client, at, until=until)


def password_changed(
    account: Account, client: ClientInfo, at: datetime, how: str, hold_until: datetime | None = None
) -> Message:
    until = hold_until.isoformat(timespec="minutes") if hold_until else None
    return _seen_from(account, "password_changed", client, at, how=how, hold_until=until)
