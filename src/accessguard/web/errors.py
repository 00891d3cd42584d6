"""The one boundary where errors become answers: the JSON envelope of API.md for every non-2xx.

Domain code raises `AccessError`s; FastAPI's own validation errors, 404s, 405s and anything
unexpected are translated here too, so a client meets one shape and one catalogue.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from accessguard.domain.errors import (
    AccessError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    ValidationFailed,
)
from accessguard.web.templating import templates

log = logging.getLogger("accessguard.errors")


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def envelope(error: AccessError, request_id: str) -> JSONResponse:
    body, headers = envelope_parts(error, request_id)
    return JSONResponse(body, status_code=error.entry.status, headers=headers)


def envelope_parts(error: AccessError, request_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The contract's `{"error": {…}}` body of a refusal, and its headers."""
    entry = error.entry
    body: dict[str, Any] = {
        "code": entry.code.value,
        "message": entry.message,
        "remedy": entry.remedy,
        "help_url": entry.help_url,
        "reference": request_id,
    }
    headers = {"X-Request-ID": request_id, "Cache-Control": "no-store"}
    if error.retry_after is not None:
        body["retry_after"] = error.retry_after
        headers["Retry-After"] = str(error.retry_after)
    body.update(error.facts)
    if "fields" in body:
        body["fields"] = [{**f, "field": _located(f["field"])} for f in body["fields"]]
    return {"error": body}, headers


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _located(field: str) -> str:
    """A field as FastAPI's own validation names it, by where it came from (`body.email`).
    The use cases name the body's fields bare (`email`): they know no HTTP."""
    return field if field.split(".", 1)[0] in _LOCATIONS else f"body.{field}"


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def wants_page(request: Request) -> bool:
    """Browsers asking for a page get HTML; the API and JSON clients get the envelope.

    A form post outside the API came from a page, whatever its Accept says (`*/*`, or none):
    the person who pressed its button gets a page too, unless the client asks for JSON."""
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return True
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type in _FORM_TYPES and "application/json" not in accept


def page(request: Request, error: AccessError) -> Response:
    entry = error.entry
    response = templates.TemplateResponse(
        request,
        "error.html",
        {"error": error, "entry": entry, "reference": request_id_of(request.scope)},
        status_code=entry.status,
        headers={"Cache-Control": "no-store", "X-Request-ID": request_id_of(request.scope)},
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def respond(request: Request, error: AccessError) -> Response:
    if wants_page(request):
        return page(request, error)
    return envelope(error, request_id_of(request.scope))


def _fields(exc: RequestValidationError) -> list[dict[str, str]]:
    # Never echo `input`: it may be the password that was refused.
    return [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            # Pydantic's "Value error, " says which kind of check failed, not what is wrong.
            "message": str(err.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(AccessError)
    async def _access_error(request: Request, exc: AccessError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, ValidationFailed(fields=_fields(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        cause = exc.__cause__
        if isinstance(cause, AccessError):  # raised while FastAPI read the body
            error: AccessError = cause
        elif exc.status_code == 404:
            error = NotFound()
        elif exc.status_code == 405:
            error = MethodNotAllowed()
        elif exc.status_code < 500:
            error = ValidationFailed(fields=[{"field": "body", "message": str(exc.detail)}])
        else:
            error = InternalError()
        response = respond(request, error)
        for name, value in (exc.headers or {}).items():  # e.g. the Allow of a 405 (RFC 9110)
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error(
            "unhandled error request_id=%s type=%s",
            request_id_of(request.scope),
            type(exc).__name__,
            exc_info=exc,
        )
        return respond(request, InternalError())
