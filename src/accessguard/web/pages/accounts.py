"""/register, /verify-email, /forgot-password and /reset-password: the same use cases as the
API's /accounts and /password routes, the same body schemas, and answers that do not say
whether an address has an account.

Links from emails only ever show a page on GET: mail scanners fetch links before the customer
does, so a token is spent only by the form the customer submits.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from pydantic import ValidationError as SchemaError

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccessError,
    ErrorCode,
    ResetTokenInvalid,
    ValidationFailed,
    VerificationTokenInvalid,
)
from accessguard.domain.model import ClientInfo
from accessguard.domain.passwords_change import UsableLink
from accessguard.web import cookies
from accessguard.web.api.v1.schemas import Body as ApiBody
from accessguard.web.api.v1.schemas import EmailBody, NewPassword, RegistrationBody
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.pages import field_words
from accessguard.web.pages.common import FormText, check_csrf, render

router = APIRouter(include_in_schema=False)

Schema = TypeVar("Schema", bound=BaseModel)
PASSWORD_CODES = {
    ErrorCode.PASSWORD_TOO_SHORT,
    ErrorCode.PASSWORD_TOO_LONG,
    ErrorCode.PASSWORD_TOO_COMMON,
    ErrorCode.PASSWORD_UNCHANGED,
}


class NewPasswordForm(ApiBody):
    """ResetBody without its token: a mangled link is reset_token_invalid, not a form error."""

    new_password: NewPassword


def validated(schema: type[Schema], **values: str) -> Schema:
    """The API's own body schema decides what is well-formed; its refusal becomes the
    catalogue's validation_error, naming the fields but never echoing what was typed. A field
    left empty is "required", whatever check of the schema it failed first."""
    try:
        return schema.model_validate(values)
    except SchemaError as error:
        fields = []
        for item in error.errors(include_input=False):
            field = ".".join(str(part) for part in item["loc"])
            blank = not values.get(field, "").strip()
            message = "is required" if blank else item["msg"].removeprefix("Value error, ")
            fields.append({"field": field, "message": message})
        raise ValidationFailed(fields=fields) from None


def form_state(error: AccessError | None, policy_field: str = "password") -> dict[str, Any]:
    """Where a refusal is shown: next to the field it concerns, or above the form."""
    field_errors: dict[str, str] = {}
    error_field = None
    if error is not None and error.code in PASSWORD_CODES:
        error_field = policy_field
    elif isinstance(error, ValidationFailed):
        field_errors = field_words.field_errors(error)
        error_field = next(iter(field_errors), None)
    return {"error_field": error_field, "field_errors": field_errors}


def duration(seconds: int) -> str:
    """24 hours, 30 minutes: how long a link or a hold lasts, in words."""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def password_rule(svc: Services) -> dict[str, Any]:
    return {
        "min_length": svc.settings.password_min_length,
        "max_length": svc.settings.password_max_length,
    }


# --------------------------------------------------------------------------- registration


@router.get("/register")
def register_page(request: Request, svc: Services = Depends(services)) -> Response:
    return render(
        request, "pages/register.html", {"email": "", **password_rule(svc), **form_state(None)}
    )


@router.post("/register")
def register_submit(
    request: Request,
    email: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        body = validated(RegistrationBody, email=email, password=password)
        svc.accounts.register(body.email, body.password, client)
    except AccessError as error:
        context = {"email": email, **password_rule(svc), **form_state(error)}
        return render(request, "pages/register.html", context, error=error)
    svc.dispatcher_wake()
    # To a page of its own, so that reloading "Check your email" does not sign up again: a
    # second sign-up of an unconfirmed address voids the first link and mails a "finish" link
    # instead (accounts._offer_to_finish), which left the customer holding a dead link.
    response = RedirectResponse("/register/sent", status_code=303)
    cookies.carry(response, svc.settings, "registered", {"email": body.email})
    return response


@router.get("/register/sent")
def register_sent(request: Request, svc: Services = Depends(services)) -> Response:
    """The same page whether the address was new or taken: its owner gets a notice instead."""
    email = (cookies.carried(request, svc.settings, "registered") or {}).get("email")
    if not email:
        return RedirectResponse("/register", status_code=303)
    lifetime = duration(svc.rules.verify_token_seconds)
    return render(
        request, "pages/register.html", {"sent": True, "email": email, "lifetime": lifetime}
    )


# --------------------------------------------------------------------------- verification


def _verify_page(
    request: Request, state: str, *, error: AccessError | None = None, **context: Any
) -> Response:
    return render(
        request,
        "pages/verify_email.html",
        {"state": state, "token": "", "email": "", **form_state(error), **context},
        error=error,
    )


@router.get("/verify-email")
def verify_email_page(
    request: Request,
    token: str = "",
    svc: Services = Depends(services),
) -> Response:
    if not token:  # no link at hand: this is where to ask for a new one
        return _verify_page(request, "resend")
    if svc.accounts.confirmed_already(token):  # the link opened again: nothing left to press
        return _verify_page(request, "confirmed")
    return _verify_page(request, "confirm", token=token)


@router.post("/verify-email")
def verify_email_submit(
    request: Request,
    token: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        svc.accounts.verify_email(token, client)
    except VerificationTokenInvalid as error:
        return _verify_page(request, "resend", error=error)
    except AccessError as error:
        return _verify_page(request, "confirm", error=error, token=token)
    return _verify_page(request, "confirmed")


@router.get("/verify-email/resend")
def resend_page() -> Response:
    """Opened without its form: the page that offers a new link."""
    return RedirectResponse("/verify-email", status_code=303)


@router.post("/verify-email/resend")
def resend_submit(
    request: Request,
    email: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        body = validated(EmailBody, email=email)
        svc.accounts.resend_verification(body.email, client)
    except AccessError as error:
        return _verify_page(request, "resend", error=error, email=email)
    svc.dispatcher_wake()
    return _verify_page(
        request,
        "resent",
        email=body.email,
        lifetime=duration(svc.rules.verify_token_seconds),
        per_window=svc.rules.recipient_email_limit,
        window=duration(svc.rules.address_window_seconds),
    )


# --------------------------------------------------------------------------- forgotten password


@router.get("/forgot-password")
def forgot_page(request: Request) -> Response:
    return render(request, "pages/forgot_password.html", {"email": "", **form_state(None)})


@router.post("/forgot-password")
def forgot_submit(
    request: Request,
    email: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        body = validated(EmailBody, email=email)
        svc.passwords.forgot(body.email, client)
    except AccessError as error:
        return render(
            request,
            "pages/forgot_password.html",
            {"email": email, **form_state(error)},
            error=error,
        )
    svc.dispatcher_wake()
    return render(
        request,
        "pages/forgot_password.html",
        {
            "sent": True,
            "email": body.email,
            "lifetime": duration(svc.rules.reset_token_seconds),
            "per_window": svc.rules.recipient_email_limit,
            "window": duration(svc.rules.address_window_seconds),
        },
    )


def _reset_page(
    request: Request,
    svc: Services,
    state: str,
    *,
    error: AccessError | None = None,
    token: str = "",
    link: UsableLink | None = None,
    finishing: bool = False,
) -> Response:
    context = {
        "state": state,
        "token": token,
        # A second sign-up's link: the account's first password.
        "finishing": finishing or (link is not None and link.state == "finish"),
        "email": link.email if link else "",
        "hold": duration(svc.rules.security_hold_seconds),
        **password_rule(svc),
        **form_state(error, "new_password"),
    }
    return render(request, "pages/reset_password.html", context, error=error)


@router.get("/reset-password")
def reset_page(
    request: Request,
    token: str = "",
    svc: Services = Depends(services),
) -> Response:
    # A read-only look: opening (or prefetching) the link never spends it.
    link = svc.passwords.usable_link(token) if token else None
    if link is None:
        return _reset_page(request, svc, "invalid", error=ResetTokenInvalid())
    return _reset_page(request, svc, "form", token=token, link=link)


@router.post("/reset-password")
def reset_submit(
    request: Request,
    token: FormText = "",
    new_password: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    try:
        check_csrf(request, csrf_token, session_bound=False)
        body = validated(NewPasswordForm, new_password=new_password)
        done = svc.passwords.reset(token, body.new_password, client)
    except ResetTokenInvalid as error:
        return _reset_page(request, svc, "invalid", error=error)
    except AccessError as error:
        # The policy is checked before the link is claimed, so the form can be tried again.
        usable = svc.passwords.usable_link(token)
        return _reset_page(request, svc, "form", error=error, token=token, link=usable)
    svc.dispatcher_wake()
    response = _reset_page(request, svc, "done", finishing=done == "finish")
    cookies.clear_session(response, svc.settings)  # every session just ended, this one too
    return response
