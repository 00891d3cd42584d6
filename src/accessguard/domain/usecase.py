"""What the account and password use cases share: their collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from accessguard.domain.passwords import PasswordPolicy
from accessguard.domain.ports import Clock, PasswordHasher, UnitOfWorkFactory
from accessguard.domain.rules import Rules
from accessguard.domain.throttling import AddressThrottle


@dataclass(frozen=True)
class PasswordUseCase:
    rules: Rules
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    policy: PasswordPolicy
    throttle: AddressThrottle
