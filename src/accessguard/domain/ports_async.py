"""What sign-in needs from storage when it runs on the event loop (domain/signin.py).

Most sign-ins are a right password, with nothing unusual about them: a read before the hash
(two when the client brings a known device), a count after it, and one write that holds only
if the lock is still as read. On PostgreSQL
with Redis these go straight from the event loop, so no request thread waits while the hash
runs; every other case, and every other backend, takes the synchronous path on a worker
thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from accessguard.domain.model import (
    Account,
    AttemptFromDevice,
    AuditEvent,
    Device,
    LockState,
    SecondFactors,
    Session,
)

T = TypeVar("T")


class NewSessions(Protocol):
    def add(self, session: Session, token_digest: str) -> None:
        """As `SessionRepository.add`."""


class NewDevices(Protocol):
    def add(self, device: Device, token_digest: str) -> None:
        """As `DeviceRepository.add`."""

    def touch(self, device_id: str, at: datetime) -> None:
        """As `DeviceRepository.touch`."""


class NewAuditRows(Protocol):
    def record(self, event: AuditEvent) -> None:
        """As `AuditLog.record`."""


class SignInWrites(Protocol):
    """The writes of a successful sign-in: its device (new, or known and touched), its
    session and its audit row. A unit of work is one; so is what
    `SignInStore.write_if_lock_is` hands out."""

    @property
    def sessions(self) -> NewSessions: ...

    @property
    def devices(self) -> NewDevices: ...

    @property
    def audit(self) -> NewAuditRows: ...


class SignInStore(Protocol):
    async def count(self, key: str) -> int:
        """The counter's current value (0 when empty), as `ThrottleStore.count`."""

    async def counts(self, keys: Sequence[str]) -> list[int]:
        """Each counter's value, in order, read together, as `ThrottleStore.counts`."""

    async def reset(self, key: str) -> None:
        """Forget the counter, as `ThrottleStore.reset`."""

    async def for_password_attempt(
        self, email_key: str, lock_subject: str
    ) -> tuple[Account | None, SecondFactors, LockState]:
        """As `AccountRepository.for_password_attempt`."""

    async def for_password_attempt_from_device(
        self, email_key: str, lock_subject: str, token_digest: str
    ) -> AttemptFromDevice:
        """As `AccountRepository.for_password_attempt_from_device`."""

    async def write_if_lock_is(
        self, subject: str, lock: LockState, fill: Callable[[SignInWrites], T]
    ) -> T | None:
        """Call `fill` with repositories that only take new rows, then store every row it
        added as one atomic write, provided `subject`'s lock is still `lock` (as read before
        the hash: no lock, unlock or reset since); `fill`'s result once stored, or None with
        nothing stored when the lock moved."""

    async def aclose(self) -> None:
        """Close what the running event loop holds (the app's shutdown)."""

    def close(self) -> None:
        """Close whatever is left when the services end."""
