"""State-changing API calls must send JSON, and a browser's must come from one of our pages.

A form posted from another site cannot send JSON; a body-less POST (sign-out, starting an
authenticator set-up) can, and SameSite=Lax lets the session cookie ride along from a
sibling subdomain. So such a call is refused when the browser says it came from another
site, unless it carries its own `Authorization` (a token no other site can add).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessguard.domain.errors import (
    AccessError,
    CsrfFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from accessguard.web.errors import envelope, request_id_of
from accessguard.web.origin import from_another_site

_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


class JsonOnlyMiddleware:
    def __init__(self, app: ASGIApp, *, public_origin: str, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _CHANGING
            and scope["path"].startswith(self.prefix)
        ):
            headers = dict(scope["headers"])
            has_body = headers.get(b"content-length", b"0") != b"0" or (
                b"transfer-encoding" in headers
            )
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            refusal: AccessError | None = None
            if has_body and media_type != b"application/json":
                refusal = UnsupportedMediaType()
            elif b"authorization" not in headers and self._from_another_site(headers):
                refusal = CsrfFailed()
            elif has_body:
                try:
                    body = await _whole_body(receive)
                except AccessError as too_large:  # the body limit, counted as it arrives
                    refusal = too_large
                else:
                    refusal = _not_plain_json(body)
                    receive = _replayed(body, receive)
            if refusal is not None:
                response = envelope(refusal, request_id_of(scope))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _from_another_site(self, headers: dict[bytes, bytes]) -> bool:
        said = {
            name.decode("latin-1"): headers[name].decode("latin-1")
            for name in (b"sec-fetch-site", b"origin")
            if name in headers
        }
        host = headers.get(b"host", b"").decode("latin-1")
        return from_another_site(said, host, self.public_origin)


async def _whole_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayed(body: bytes, receive: Receive) -> Receive:
    """The body once more for the app, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _NotPlainJson(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        # The last would win here while a proxy or firewall in front may read the first: two
        # parties must never see different credentials in one body.
        raise _NotPlainJson("repeats a key")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise _NotPlainJson("holds NaN or Infinity, which JSON does not allow")


def _not_plain_json(body: bytes) -> ValidationFailed | None:
    """The contract's bodies are UTF-8 JSON (RFC 8259). Python's parser also takes UTF-16 and
    UTF-32, a byte-order mark, NaN and repeated keys; those are refused here, with the body
    never quoted, as is malformed JSON, whose field is named `body` like the rest (the
    framework's own answer named a position in it, `body.1`)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _refused("is not UTF-8 text")
    if text.startswith("\ufeff"):
        return _refused("starts with a byte-order mark")
    if not text.strip():
        return None  # no body: the endpoint says whether it needs one
    try:
        json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except _NotPlainJson as problem:
        return _refused(str(problem))
    except RecursionError:
        return _refused("is nested too deeply")
    except ValueError:
        return _refused("is not valid JSON")
    return None


def _refused(problem: str) -> ValidationFailed:
    return ValidationFailed(fields=[{"field": "body", "message": problem}])
