"""Known devices (OWASP device cookies): a client that finished a sign-in gets a signed token
that lets it sign in while strangers have locked the email, and counts its own failures."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from accessguard.domain.model import Device
from accessguard.domain.ports import UnitOfWork
from accessguard.domain.ports_async import SignInWrites
from accessguard.domain.rules import Rules
from accessguard.domain.tokens import Signer, digest, new_token


class KnownDevices:
    def __init__(self, rules: Rules, signer: Signer) -> None:
        self._rules = rules
        self._signer = signer

    def recognise(
        self, uow: UnitOfWork, account_id: str | None, token: str | None, now: datetime
    ) -> Device | None:
        """The account's unexpired device whose signed token the client presented."""
        token_digest = self.digest_of(token) if account_id is not None else None
        if token_digest is None:
            return None
        return self.usable(uow.devices.by_token_digest(token_digest), account_id, now)

    def digest_of(self, token: str | None) -> str | None:
        """What a presented token's device is stored under; None for no token or a token
        whose signature fails (a forgery, or one signed with a retired key)."""
        plain = self._signer.unsign(token) if token else None
        return None if plain is None else digest(plain)

    @staticmethod
    def usable(device: Device | None, account_id: str | None, now: datetime) -> Device | None:
        """The device, if it is the account's and unexpired: a token copied from another
        account's client, or an old one, makes the client a stranger."""
        if device is None or device.account_id != account_id or device.expires_at <= now:
            return None
        return device

    def remember(
        self,
        writes: SignInWrites,
        account_id: str,
        device: Device | None,
        presented: str | None,
        now: datetime,
    ) -> str:
        """The token the client keeps: the one it brought for a known device, else a new one."""
        if device is not None and presented:
            writes.devices.touch(device.id, now)
            return presented
        return self.new(writes, account_id, now)

    def new(self, writes: SignInWrites, account_id: str, now: datetime) -> str:
        """A device for a client the account has not seen: its signed token, to keep."""
        plain, token_digest = new_token()
        expires = now + timedelta(seconds=self._rules.device_max_seconds)
        writes.devices.add(Device(str(uuid.uuid4()), account_id, now, now, expires), token_digest)
        return self._signer.sign(plain)
