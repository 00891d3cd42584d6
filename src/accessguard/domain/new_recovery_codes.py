"""A new set of recovery codes for a signed-in owner: the old set stops working.

Recovery codes remove the authenticator app (`Totp.remove`), so while an app is set up a new
set is worth as much as the app itself: it needs a current code from the app too, unless this
session proved the app already (`Totp.codes_need_the_app`). Otherwise the password and a text
message, which a SIM swap yields, would get the stronger factor: the codes bind a replacement
for the app (NIST SP 800-63B-4, "Authenticator Event Management"), at the weaker one's level.
"""

from __future__ import annotations

from dataclasses import dataclass

from accessguard.domain.codes import APP, refuse_malformed
from accessguard.domain.errors import (
    AccessError,
    InvalidCredentials,
    RecoveryCodesReplaced,
    SecondFactorRequired,
    ValidationFailed,
)
from accessguard.domain.lockout import CODE_REFUSALS, Lockout
from accessguard.domain.mfa_totp import Totp
from accessguard.domain.model import ClientInfo
from accessguard.domain.passwords import prepare
from accessguard.domain.ports import Clock, PasswordHasher, UnitOfWorkFactory
from accessguard.domain.recovery_codes import RecoveryCodes, owner_event, owner_notice, set_name
from accessguard.domain.sessions import Authenticated

KIND = "recovery_codes_regenerated"


@dataclass(frozen=True)
class NewRecoveryCodes:
    uow: UnitOfWorkFactory
    clock: Clock
    passwords: PasswordHasher
    lockout: Lockout
    codes: RecoveryCodes
    totp: Totp

    def make(
        self,
        auth: Authenticated,
        password: str,
        client: ClientInfo,
        *,
        code: str | None = None,
        replacing: str | None = None,
    ) -> list[str]:
        """A new set for an account with a second factor. The password, and the app's `code`
        when `Totp.codes_need_the_app` says so (`ValidationFailed` on `code` when missing or
        blank), are checked under the email's lockout, so a stolen session cannot guess them.
        With `replacing` (the name of the set the form showed), `RecoveryCodesReplaced` once
        that set is gone, before either is checked: a form sent twice makes one set, never
        voids the one its first sending showed, and is not told that its code was spent."""
        account, now = auth.account, self.clock.now()
        self._check_the_form(account.id, replacing)
        app_code = None
        if self.totp.codes_need_the_app(auth):
            if code is None or not code.strip():
                message = "needed while an authenticator app is set up"
                raise ValidationFailed(fields=[{"field": "code", "message": message}])
            refuse_malformed(code, APP)
            app_code = code

        def refusal() -> AccessError | None:
            if not self.passwords.verify(account.password_hash, prepare(password)):
                return InvalidCredentials()
            if app_code is None:
                return None
            try:
                self.totp.verify(account.id, app_code, attempts_left=0)
            except CODE_REFUSALS as refused:
                return refused  # the guard audits it, and counts it if it is a guess
            return None

        self.lockout.guard_owner_secret(self.uow, account, client, now, KIND, refusal)
        issued = self.codes.issue()  # hashed before the transaction: Argon2 holds no locks
        with self.uow() as uow:
            if not uow.accounts.second_factors(account.id).app_or_phone:
                raise SecondFactorRequired()  # removed while the codes were being hashed
            issued.store(uow, account.id, now, replacing=replacing)
            uow.outbox.add(owner_notice(account, KIND, client, now), now)
            uow.audit.record(owner_event(account.id, KIND, client, now))
        return issued.codes

    def _check_the_form(self, account_id: str, replacing: str | None) -> None:
        with self.uow(read_only=True) as uow:
            if not uow.accounts.second_factors(account_id).app_or_phone:
                raise SecondFactorRequired()
            # Answered before any secret is checked, so nothing is counted or audited: it
            # says only that the set changed, which the session reads on its account page
            # (the set's name is in the form), and it makes nothing. `store` checks again
            # under the account's lock, for a sending that races another.
            if replacing is None:
                return
            if replacing != set_name(uow.recovery_codes.stored(account_id)):
                raise RecoveryCodesReplaced()
