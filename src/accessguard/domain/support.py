"""What support staff may do for a customer: lift a lockout."""

from __future__ import annotations

from accessguard.domain.emails import email_key
from accessguard.domain.lockout import device_subject, email_subject
from accessguard.domain.model import AuditEvent
from accessguard.domain.ports import Clock, UnitOfWorkFactory


class Support:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def unlock(self, email: str, *, actor: str) -> bool:
        """Lift every lock on the email and its devices; False when no such account."""
        now = self._clock.now()
        key = email_key(email)
        with self._uow() as uow:
            account = uow.accounts.by_email_key(key)
            if account is None:
                return False
            subjects = [email_subject(key)]
            subjects += [device_subject(d) for d in uow.devices.ids_for(account.id)]
            uow.lockouts.unlock(subjects)
            uow.audit.record(
                AuditEvent(now, "unlock", "success", account.id, "", "", {"actor": actor})
            )
        return True
