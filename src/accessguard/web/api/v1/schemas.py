"""Request and response bodies. Strict types: a number where text belongs is refused, not
coerced, and every string is checked for what would break storage or a hash."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _sound_text(value: str) -> str:
    # Lone surrogates survive JSON decoding but not UTF-8 encoding; NUL breaks PostgreSQL.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("contains characters that are not valid Unicode") from error
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def _email(value: str) -> str:
    # strip() below would quietly drop a trailing newline or tab; control characters are refused.
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("contains a control character")
    try:
        # strict: also RFC 5321's 64-character limit before the @, which mail servers enforce.
        return validate_email(value.strip(), check_deliverability=False, strict=True).normalized
    except EmailNotValidError as error:
        raise ValueError("must be a whole address, such as name@example.com") from error


Text = Annotated[str, AfterValidator(_sound_text)]
Email = Annotated[
    str,
    StringConstraints(strict=True, max_length=320),
    Field(json_schema_extra={"format": "email"}),  # tells clients (and fuzzers) what is valid
    AfterValidator(_sound_text),
    AfterValidator(_email),
]
Password = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=4096),
    Field(json_schema_extra={"pattern": "^[^\\u0000]*$"}),  # documents _sound_text's NUL rule
    AfterValidator(_sound_text),
]
# A password being chosen has no bound here: the policy's own limit (PASSWORD_MAX_LENGTH, after
# NFKC) answers `password_too_long` at any length, and the 64 KiB body limit bounds the work.
NewPassword = Annotated[
    str,
    StringConstraints(strict=True, min_length=1),
    Field(json_schema_extra={"pattern": "^[^\\u0000]*$"}),
    AfterValidator(_sound_text),
]
Token = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_\-.]+$")
]


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Credentials(Body):
    email: Email
    password: Password


class SignInBody(Credentials):
    device_token: Token | None = None


class RegistrationBody(Body):
    email: Email
    password: NewPassword


class EmailBody(Body):
    email: Email


class TokenBody(Body):
    token: Token


class ResetBody(Body):
    token: Token
    new_password: NewPassword


class ChangePasswordBody(Body):
    current_password: Password
    new_password: NewPassword


class Status(BaseModel):
    status: str


class SessionOut(BaseModel):
    token: str
    expires_at: datetime


class SignInOut(BaseModel):
    status: Literal["authenticated"] = "authenticated"
    session: SessionOut
    device_token: str


class MfaRequiredOut(BaseModel):
    status: Literal["mfa_required"] = "mfa_required"
    mfa_token: str
    methods: list[str]
    expires_at: datetime


# Lenient on purpose: "123 456" or "abcde-fghij" as typed is fine. What a code must look like
# is the method's to say (`SecondFactor.code_problem`, `codes.refuse_malformed`): a malformed
# one is answered validation_error on `code` without counting it, wherever a code is judged.
MfaCode = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=64),
    Field(json_schema_extra={"pattern": "^[^\\u0000]*$"}),  # documents _sound_text's NUL rule
    AfterValidator(_sound_text),
]


# A code or a password some requests need only in some states (new recovery codes want the
# app's code while one is set up, changing a phone number the password and a code while one is
# active): empty is the same as left out, as an empty form field is, so that the use case, not
# the schema, says that it is needed and why.
OptionalMfaCode = Annotated[
    str,
    StringConstraints(strict=True, max_length=64),
    Field(json_schema_extra={"pattern": "^[^\\u0000]*$"}),  # documents _sound_text's NUL rule
    AfterValidator(_sound_text),
]
OptionalPassword = Annotated[
    str,
    StringConstraints(strict=True, max_length=4096),
    Field(json_schema_extra={"pattern": "^[^\\u0000]*$"}),
    AfterValidator(_sound_text),
]


class SecondStepBody(Body):
    mfa_token: Token
    method: Literal["totp", "sms", "recovery_code"]
    code: MfaCode
    device_token: Token | None = None


class MfaTokenBody(Body):
    mfa_token: Token


class MfaOut(BaseModel):
    totp: bool = False
    sms: bool = False
    recovery_codes_left: int = 0


class RecoveryRequestOut(BaseModel):
    """The account's open or approved lost-device request, as its owner sees it."""

    reference: str
    state: Literal["open", "approved"]
    opened_at: datetime
    takes_effect_at: datetime | None = Field(
        description="When the second factors are removed; null until support approves"
    )
    ip: str = Field(description="The address the request came from")
    country: str | None
    user_agent: str = Field(
        description="The browser or app the request came from, as it named itself"
    )
    cancellable: bool = Field(description="false once it has taken effect and is being carried out")


class MeOut(BaseModel):
    id: str
    email: str
    email_verified: bool
    created_at: datetime
    mfa: MfaOut
    security_hold_until: datetime | None
    recovery_request: RecoveryRequestOut | None = Field(
        description="null when no lost-device recovery request is open or approved"
    )


class SessionInfo(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    ip: str
    user_agent: str
    current: bool


class HistoryEntry(BaseModel):
    at: datetime
    ip: str
    user_agent: str
    outcome: str = Field(description="`success`, or the error code the attempt was given")
    step: Literal["password", "second_factor"] = Field(
        description="The step of the sign-in: a right password with a second step due is a "
        "`success` of the `password` step"
    )


class CatalogueItem(BaseModel):
    code: str
    status: int
    message: str
    help_url: str


class ErrorBody(BaseModel):
    code: str
    message: str
    help_url: str
    reference: str
    retry_after: int | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


ID = Annotated[str, Field(max_length=64)]
