"""The one error catalogue: every refusal the service can give, to an app or to a person.

Each code has a status (the contract's number, not a framework's constant), a message that
says what happened, a remedy that says what to do next, and a help page. The exceptions carry
only the facts the message needs (`retry_after`, `attempts_left`, `fields`, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from math import ceil
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    MALFORMED_REQUEST = "malformed_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_LOCKED = "account_locked"
    TOO_MANY_REQUESTS = "too_many_requests"
    EMAIL_NOT_VERIFIED = "email_not_verified"
    NOT_AUTHENTICATED = "not_authenticated"
    SESSION_EXPIRED = "session_expired"
    FORBIDDEN = "forbidden"
    CSRF_FAILED = "csrf_failed"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORD_TOO_COMMON = "password_too_common"
    PASSWORD_UNCHANGED = "password_unchanged"
    RESET_TOKEN_INVALID = "reset_token_invalid"
    VERIFICATION_TOKEN_INVALID = "verification_token_invalid"
    INVALID_MFA_CODE = "invalid_mfa_code"
    MFA_CODE_REUSED = "mfa_code_reused"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    TOTP_ALREADY_ENABLED = "totp_already_enabled"
    TOTP_NOT_SET_UP = "totp_not_set_up"
    TOTP_CLOCK_DRIFT = "totp_clock_drift"
    MFA_TOKEN_EXPIRED = "mfa_token_expired"
    MFA_TOKEN_INVALID = "mfa_token_invalid"
    MFA_METHOD_UNAVAILABLE = "mfa_method_unavailable"
    SMS_RESEND_TOO_SOON = "sms_resend_too_soon"
    SMS_DELIVERY_FAILED = "sms_delivery_failed"
    SMS_CODE_EXPIRED = "sms_code_expired"
    SMS_LIMIT_REACHED = "sms_limit_reached"
    SMS_NOT_SET_UP = "sms_not_set_up"
    APP_CODE_REQUIRED = "app_code_required"
    PHONE_NUMBER_INVALID = "phone_number_invalid"
    SERVICE_UNAVAILABLE = "service_unavailable"
    REQUEST_TIMED_OUT = "request_timed_out"
    RECOVERY_TOKEN_INVALID = "recovery_token_invalid"
    RECOVERY_CASE_CLOSED = "recovery_case_closed"
    NO_RECOVERY_REQUEST = "no_recovery_request"
    MFA_SESSION_REQUIRED = "mfa_session_required"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class HelpPage:
    """What a customer reads at /help/CODE."""

    title: str
    what_you_see: str
    why: str
    what_to_do: str
    contact_support: str
    keywords: str = ""


@dataclass(frozen=True)
class CatalogueEntry:
    code: ErrorCode
    status: int
    message: str
    remedy: str
    help: HelpPage

    @property
    def help_url(self) -> str:
        return f"/help/{self.code.value}"


class AccessError(Exception):
    """A refusal from the catalogue. Subclasses fix `code`; instances carry the facts."""

    code: ClassVar[ErrorCode]

    def __init__(self, *, retry_after: int | None = None, **facts: Any) -> None:
        self.retry_after = None if retry_after is None else max(1, retry_after)
        self.facts = facts
        super().__init__(self.code.value)

    @property
    def entry(self) -> CatalogueEntry:
        from accessguard.domain.catalogue import CATALOGUE

        return CATALOGUE[self.code]


def _seconds_until(until: datetime, now: datetime) -> int:
    return max(1, ceil((until - now).total_seconds()))


class ValidationFailed(AccessError):
    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, *, fields: list[dict[str, str]]) -> None:
        super().__init__(fields=fields)


class PayloadTooLarge(AccessError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(AccessError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class MalformedRequest(AccessError):
    code = ErrorCode.MALFORMED_REQUEST


class NotFound(AccessError):
    code = ErrorCode.NOT_FOUND


class MethodNotAllowed(AccessError):
    code = ErrorCode.METHOD_NOT_ALLOWED


class InvalidCredentials(AccessError):
    code = ErrorCode.INVALID_CREDENTIALS


class AccountLocked(AccessError):
    code = ErrorCode.ACCOUNT_LOCKED

    def __init__(self, *, until: datetime, now: datetime) -> None:
        super().__init__(
            retry_after=_seconds_until(until, now),
            locked_until=until.isoformat(timespec="seconds"),
        )


class TooManyRequests(AccessError):
    code = ErrorCode.TOO_MANY_REQUESTS

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)


class EmailNotVerified(AccessError):
    code = ErrorCode.EMAIL_NOT_VERIFIED


class NotAuthenticated(AccessError):
    code = ErrorCode.NOT_AUTHENTICATED


class SessionExpired(AccessError):
    code = ErrorCode.SESSION_EXPIRED


class Forbidden(AccessError):
    code = ErrorCode.FORBIDDEN


class CsrfFailed(AccessError):
    code = ErrorCode.CSRF_FAILED


class PasswordTooShort(AccessError):
    code = ErrorCode.PASSWORD_TOO_SHORT

    def __init__(self, *, min_length: int) -> None:
        super().__init__(min_length=min_length)


class PasswordTooLong(AccessError):
    code = ErrorCode.PASSWORD_TOO_LONG

    def __init__(self, *, max_length: int) -> None:
        super().__init__(max_length=max_length)


class PasswordTooCommon(AccessError):
    code = ErrorCode.PASSWORD_TOO_COMMON


class PasswordUnchanged(AccessError):
    code = ErrorCode.PASSWORD_UNCHANGED


class ResetTokenInvalid(AccessError):
    code = ErrorCode.RESET_TOKEN_INVALID


class VerificationTokenInvalid(AccessError):
    code = ErrorCode.VERIFICATION_TOKEN_INVALID


class InvalidMfaCode(AccessError):
    code = ErrorCode.INVALID_MFA_CODE

    def __init__(self, *, attempts_left: int) -> None:
        super().__init__(attempts_left=attempts_left)


class MfaCodeReused(AccessError):
    code = ErrorCode.MFA_CODE_REUSED


class RecoveryCodeUsed(AccessError):
    code = ErrorCode.RECOVERY_CODE_USED


class RecoveryCodesReplaced(AccessError):
    code = ErrorCode.RECOVERY_CODES_REPLACED


class SecondFactorRequired(AccessError):
    code = ErrorCode.SECOND_FACTOR_REQUIRED


class TotpAlreadyEnabled(AccessError):
    code = ErrorCode.TOTP_ALREADY_ENABLED


class TotpNotSetUp(AccessError):
    code = ErrorCode.TOTP_NOT_SET_UP


class SmsNotSetUp(AccessError):
    code = ErrorCode.SMS_NOT_SET_UP


class AppCodeRequired(AccessError):
    """A text to the phone in use is asked for to prove it, while the account has an
    authenticator app: the app's code proves a phone change or removal instead."""

    code = ErrorCode.APP_CODE_REQUIRED


class TotpClockDrift(AccessError):
    code = ErrorCode.TOTP_CLOCK_DRIFT

    def __init__(self, *, drift_seconds: int) -> None:
        super().__init__(drift_seconds=drift_seconds)


class MfaTokenExpired(AccessError):
    code = ErrorCode.MFA_TOKEN_EXPIRED


class MfaTokenInvalid(AccessError):
    code = ErrorCode.MFA_TOKEN_INVALID


class MfaMethodUnavailable(AccessError):
    code = ErrorCode.MFA_METHOD_UNAVAILABLE

    def __init__(self, *, methods: list[str]) -> None:
        super().__init__(methods=methods)


class SmsResendTooSoon(AccessError):
    code = ErrorCode.SMS_RESEND_TOO_SOON

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)


class RequestTimedOut(AccessError):
    """No answer in time, while the work may still finish: unlike `ServiceUnavailable`, the
    client cannot be told that nothing changed."""

    code = ErrorCode.REQUEST_TIMED_OUT

    def __init__(self, *, retry_after: int = 5) -> None:
        super().__init__(retry_after=retry_after)


class SmsDeliveryFailed(AccessError):
    """The gateway refused or did not answer: trying again shortly is the remedy."""

    code = ErrorCode.SMS_DELIVERY_FAILED

    def __init__(self, *, retry_after: int = 60) -> None:
        super().__init__(retry_after=retry_after)


class SmsCodeExpired(AccessError):
    """No SMS code can be accepted any more: expired, used, out of tries or never sent."""

    code = ErrorCode.SMS_CODE_EXPIRED


class SmsLimitReached(AccessError):
    """The daily cap of text messages for the account or the number is reached."""

    code = ErrorCode.SMS_LIMIT_REACHED

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)


class PhoneNumberInvalid(AccessError):
    code = ErrorCode.PHONE_NUMBER_INVALID

    def __init__(self, *, fields: list[dict[str, str]]) -> None:
        super().__init__(fields=fields)


class ServiceUnavailable(AccessError):
    """A dependency (database, Redis) did not answer in time: retry shortly."""

    code = ErrorCode.SERVICE_UNAVAILABLE

    def __init__(self, *, retry_after: int = 5) -> None:
        super().__init__(retry_after=retry_after)


class RecoveryTokenInvalid(AccessError):
    code = ErrorCode.RECOVERY_TOKEN_INVALID


class RecoveryCaseClosed(AccessError):
    code = ErrorCode.RECOVERY_CASE_CLOSED

    def __init__(self, *, status: str) -> None:
        super().__init__(status=status)


class NoRecoveryRequest(AccessError):
    """The signed-in owner cancels, and the account has no case that can still be cancelled."""

    code = ErrorCode.NO_RECOVERY_REQUEST


class ReauthenticationRequired(AccessError):
    """Adding a second factor from a session signed in a while ago needs the password again."""

    code = ErrorCode.REAUTHENTICATION_REQUIRED


class MfaSessionRequired(AccessError):
    """Staff actions need a session that passed a second factor, not a password alone."""

    code = ErrorCode.MFA_SESSION_REQUIRED


class InternalError(AccessError):
    code = ErrorCode.INTERNAL_ERROR


def exception_classes() -> dict[ErrorCode, type[AccessError]]:
    """Every code's exception class; the catalogue test proves none is missing."""
    return {cls.code: cls for cls in AccessError.__subclasses__()}


SUPPORT_DETAILS = (
    "Contact support with the email address of your account, the error reference shown with "
    "the message, the time it happened and the device you used. Never send your password or a "
    "verification code: support will never ask for them."
)


def catalogue_entry(
    code: ErrorCode, status: int, message: str, remedy: str, **help: str
) -> CatalogueEntry:
    """One catalogue entry; help pages ask for support's details unless they say otherwise."""
    help.setdefault("contact_support", SUPPORT_DETAILS)
    return CatalogueEntry(code, status, message, remedy, HelpPage(**help))
