"""The records the rules work on. Plain data: storage maps them, the web serialises them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    email_key: str
    password_hash: str
    email_verified_at: datetime | None
    created_at: datetime
    role: str = "customer"
    security_hold_until: datetime | None = None
    anti_phishing_phrase: str | None = None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


@dataclass(frozen=True)
class Session:
    id: str
    account_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    revoked_at: datetime | None = None
    second_factor: str | None = None  # the method that completed the sign-in; None: password

    @property
    def passed_second_factor(self) -> bool:
        return self.second_factor is not None


@dataclass(frozen=True)
class Device:
    id: str
    account_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SecondFactors:
    """Which second factors an account has, read in one query (sign-in asks on every try)."""

    totp: bool = False
    sms: bool = False
    recovery_codes_left: int = 0

    @property
    def app_or_phone(self) -> bool:
        """What two-step verification rests on; recovery codes only stand in for these."""
        return self.totp or self.sms

    @property
    def any(self) -> bool:
        return self.app_or_phone or self.recovery_codes_left > 0


@dataclass(frozen=True)
class Challenge:
    """A half-finished sign-in: the password was right, a second factor is still due. Its
    token is single-use, short-lived and bound to the client that asked (`binding_digest`)."""

    token_digest: str
    account_id: str
    subject: str  # the lockout subject of the password step: wrong codes count there too
    binding_digest: str
    device_id: str | None
    created_at: datetime
    expires_at: datetime
    failures: int = 0
    used_at: datetime | None = None


@dataclass(frozen=True)
class LockState:
    """A lockout subject's state. `generation` changes at every lock, unlock and reset, and
    names the failure counter, so racing failures of an old generation cannot lock twice."""

    generation: int = 0
    level: int = 0
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


# What a password attempt reads before the hash when the client brings a device token: the
# account (None for an unknown email), its second factors, the email's lock, and the account's
# device under that token with the device's own lock (None when there is no such device).
AttemptFromDevice = tuple[Account | None, SecondFactors, LockState, tuple[Device, LockState] | None]


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    kind: str
    outcome: str
    account_id: str | None = None
    ip: str = ""
    user_agent: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """A notification intent: which template goes to whom, with what facts."""

    channel: str  # "email" or "sms"
    to: str
    template: str
    data: dict[str, Any]
    account_id: str | None = None


@dataclass(frozen=True)
class ClientInfo:
    ip: str
    user_agent: str
