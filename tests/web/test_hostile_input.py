"""Hostile input against every JSON endpoint: refused with the envelope, never a 500, no trace.

Each POST endpoint of /api/v1 meets malformed and mistyped JSON, oversized and chunked bodies,
lying Content-Length headers, wrong media types, control characters, lone surrogates, SQL-looking
text, odd Unicode and absurd nesting. Every answer must be 2xx or the API.md envelope with a
catalogued code whose reference is the X-Request-ID header; a request refused before the use
case runs changes no row anywhere, and a refused registration leaves no account and no message.
The storage backend plays no part here, so the module runs on SQLite only.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services, build_services
from accessguard.storage.sql.tables import accounts, metadata
from accessguard.web.app import create_app
from tests.conftest import copy_database, delete_all_rows, suite_settings
from tests.support import PASSWORD, make_account


@pytest.fixture(scope="module")
def one_app(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Services, TestClient]]:
    """One service and app for the hundreds of hostile bodies. A new database and app for each
    would cost about 0.1 s a case (the first request to a new app builds FastAPI's routes),
    a third of this module's time; `fresh` empties every table between cases instead."""
    path = tmp_path_factory.mktemp("hostile") / "accessguard.db"
    copy_database(sqlite_template, path)
    services = build_services(suite_settings(database_url=f"sqlite:///{path}"))
    app = create_app(services=services, run_outbox_worker=False)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            yield services, client
    finally:
        services.close()


@pytest.fixture
def fresh(one_app: tuple[Services, TestClient]) -> tuple[Services, TestClient]:
    """The shared service as a new one would be: no rows, and a client without cookies."""
    services, client = one_app
    with services.engine.begin() as conn:
        delete_all_rows(conn)
    client.cookies.clear()
    return one_app


@pytest.fixture
def backend(sqlite_backend: dict[str, Any]) -> dict[str, Any]:
    """SQLite only: what is tested here happens before storage is reached, or not at all."""
    return sqlite_backend


API = "/api/v1"
LIMIT = 64 * 1024
JSON = {"content-type": "application/json"}
NEW_PASSWORD = "a different long passphrase 1984"
# Refusals decided before any use case runs: they must leave every table as it was.
EARLY_CODES = {"validation_error", "payload_too_large", "unsupported_media_type"}


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    body: dict[str, str]  # a well-formed body; the hostile cases spoil it
    signed_in: bool = False

    def fields(self, role: str) -> list[str]:
        return [name for name in self.body if ROLES[name] == role]


ROLES = {
    "email": "email",
    "password": "password",
    "current_password": "password",
    "new_password": "password",
    "token": "token",
    "mfa_token": "token",
    "method": "method",
    "code": "code",
    "phone": "phone",
    "details": "text",
    "note": "text",
}

ENDPOINTS = [
    Endpoint("register", f"{API}/accounts", {"email": "eve@example.com", "password": PASSWORD}),
    Endpoint("verify-email", f"{API}/accounts/verify-email", {"token": "no-such-token"}),
    Endpoint("resend", f"{API}/accounts/verify-email/resend", {"email": "eve@example.com"}),
    Endpoint("login", f"{API}/login", {"email": "eve@example.com", "password": PASSWORD}),
    Endpoint("forgot", f"{API}/password/forgot", {"email": "eve@example.com"}),
    Endpoint(
        "reset", f"{API}/password/reset", {"token": "no-such-token", "new_password": NEW_PASSWORD}
    ),
    Endpoint(
        "change-password",
        f"{API}/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        signed_in=True,
    ),
    Endpoint(
        "login-mfa",
        f"{API}/login/mfa",
        {"mfa_token": "no-such-token", "method": "totp", "code": "123456"},
    ),
    Endpoint("login-mfa-sms", f"{API}/login/mfa/sms", {"mfa_token": "no-such-token"}),
    Endpoint("totp-confirm", f"{API}/me/mfa/totp/confirm", {"code": "123456"}, signed_in=True),
    Endpoint("sms-add", f"{API}/me/mfa/sms", {"phone": "+4915123456789"}, signed_in=True),
    Endpoint("sms-confirm", f"{API}/me/mfa/sms/confirm", {"code": "123456"}, signed_in=True),
    Endpoint("recovery-codes", f"{API}/me/recovery-codes", {"password": PASSWORD}, signed_in=True),
    Endpoint(
        "recovery-request",
        f"{API}/recovery/requests",
        {"email": "eve@example.com", "password": PASSWORD, "details": "I lost my phone."},
    ),
    Endpoint("recovery-cancel", f"{API}/recovery/requests/cancel", {"token": "no-such-token"}),
]


# --------------------------------------------------------------------------- hostile cases


@dataclass(frozen=True)
class Expect:
    """An exact status and code, or (status None) anything but a 5xx."""

    status: int | None = None
    code: str | None = None


ANY = Expect()
INVALID = Expect(422, "validation_error")
TOO_LARGE = Expect(413, "payload_too_large")
NOT_JSON = Expect(415, "unsupported_media_type")
NO_SUCH_PHONE = Expect(422, "phone_number_invalid")


@dataclass(frozen=True)
class Request:
    content: bytes
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    chunked: bool = False  # sent as an iterator: Transfer-Encoding chunked, no Content-Length


Build = Callable[[Endpoint], Request | None]


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Build
    expect: Expect


def _dump(body: object) -> bytes:
    return json.dumps(body).encode()


def raw(content: bytes, **headers: str) -> Build:
    return lambda _: Request(content, {**JSON, **headers})


def with_role(role: str, value: object) -> Build:
    """Every field of that role set to `value`; not applicable where the endpoint has none."""

    def build(endpoint: Endpoint) -> Request | None:
        names = endpoint.fields(role)
        if not names:
            return None
        return Request(_dump({**endpoint.body, **dict.fromkeys(names, value)}))

    return build


def with_raw_role(role: str, json_text: str) -> Build:
    """Like with_role, but `json_text` goes on the wire verbatim (e.g. a lone surrogate escape)."""

    def build(endpoint: Endpoint) -> Request | None:
        names = endpoint.fields(role)
        if not names:
            return None
        marker = "@@RAW@@"
        text = json.dumps({**endpoint.body, **dict.fromkeys(names, marker)})
        return Request(text.replace(f'"{marker}"', json_text).encode())

    return build


def without_role(role: str) -> Build:
    def build(endpoint: Endpoint) -> Request | None:
        names = endpoint.fields(role)
        if not names:
            return None
        return Request(_dump({k: v for k, v in endpoint.body.items() if k not in names}))

    return build


def first_field(value: str) -> Build:
    def build(endpoint: Endpoint) -> Request:
        name = next(iter(endpoint.body))
        return Request(_dump({**endpoint.body, name: value}))

    return build


def duplicate_key_last_wrong(endpoint: Endpoint) -> Request:
    name = next(iter(endpoint.body))
    text = json.dumps(endpoint.body)
    return Request(f'{text[:-1]}, "{name}": 12345}}'.encode())


def nested_in_field(depth: int) -> Build:
    def build(endpoint: Endpoint) -> Request:
        name = next(iter(endpoint.body))
        return Request(f'{{"{name}": {"[" * depth}{"]" * depth}}}'.encode())

    return build


def chunked_over_limit(endpoint: Endpoint) -> Request:
    name = next(iter(endpoint.body))
    return Request(f'{{"{name}": "{"x" * (LIMIT + 1024)}"}}'.encode(), chunked=True)


def content_length(value: str, size: int) -> Build:
    def build(endpoint: Endpoint) -> Request:
        name = next(iter(endpoint.body))
        content = _dump({**endpoint.body, name: "x" * size})
        return Request(content, {**JSON, "content-length": value})

    return build


def media_type(content_type: str | None, encode: Callable[[dict[str, str]], bytes]) -> Build:
    def build(endpoint: Endpoint) -> Request:
        headers = {} if content_type is None else {"content-type": content_type}
        return Request(encode(endpoint.body), headers)

    return build


def _form(body: dict[str, str]) -> bytes:
    return urlencode(body).encode()


def _multipart(body: dict[str, str]) -> bytes:
    parts = [
        f'--XyZ\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in body.items()
    ]
    return ("".join(parts) + "--XyZ--\r\n").encode()


# An RTL override, zero-width joiners, an emoji family and stacked combining accents.
ODD_PASSWORD = "pass\u202eword \u200d\U0001f469\u200d\U0001f469\u200d\U0001f467 e\u0301\u0301 end"

HOSTILE = [
    # Not JSON, or JSON of the wrong shape.
    Hostile("malformed-json", raw(b'{"email":'), INVALID),
    Hostile("unterminated-string", raw(b'{"email": "eve@exa'), INVALID),
    Hostile("trailing-garbage", raw(b'{"email": "eve@example.com"} trailing'), INVALID),
    Hostile("json-list", raw(b'[{"email": "eve@example.com"}]'), INVALID),
    Hostile("json-empty-list", raw(b"[]"), INVALID),
    Hostile("json-string", raw(b'"eve@example.com"'), INVALID),
    Hostile("json-null", raw(b"null"), INVALID),
    Hostile("json-number", raw(b"42"), INVALID),
    Hostile("json-bool", raw(b"true"), INVALID),
    Hostile("empty-object", raw(b"{}"), INVALID),
    Hostile("empty-body", raw(b""), INVALID),
    Hostile("nan-literal", raw(b'{"email": NaN, "password": Infinity}'), INVALID),
    Hostile("5000-digit-number", raw(b'{"email": 1' + b"0" * 5000 + b"}"), INVALID),
    Hostile("utf8-bom", lambda e: Request(b"\xef\xbb\xbf" + _dump(e.body)), ANY),
    Hostile("invalid-utf8", raw(b'{"email": "\xff\xfe@example.com", "token": "\xc3("}'), INVALID),
    Hostile("duplicate-key-last-wrong", duplicate_key_last_wrong, INVALID),
    # Wrong types and missing fields.
    Hostile("email-as-number", with_role("email", 12345), INVALID),
    Hostile("email-as-list", with_role("email", ["eve@example.com"]), INVALID),
    Hostile("email-as-object", with_role("email", {"address": "eve@example.com"}), INVALID),
    Hostile("email-as-bool", with_role("email", True), INVALID),
    Hostile("email-as-null", with_role("email", None), INVALID),
    Hostile("password-as-number", with_role("password", 123456789012345678), INVALID),
    Hostile("password-as-list", with_role("password", [PASSWORD]), INVALID),
    Hostile("password-as-object", with_role("password", {"value": PASSWORD}), INVALID),
    Hostile("token-as-number", with_role("token", 123456), INVALID),
    Hostile("token-as-list", with_role("token", ["no-such-token"]), INVALID),
    Hostile("missing-email", without_role("email"), INVALID),
    Hostile("missing-password", without_role("password"), INVALID),
    Hostile("missing-token", without_role("token"), INVALID),
    Hostile("empty-strings", lambda e: Request(_dump(dict.fromkeys(e.body, ""))), INVALID),
    # Sizes: the contract's 64 KiB limit, however the body arrives.
    Hostile("100kb-string", first_field("x" * 100 * 1024), TOO_LARGE),
    Hostile("60kb-string", first_field("x" * 60 * 1024), Expect(422)),
    Hostile("chunked-over-limit", chunked_over_limit, TOO_LARGE),
    Hostile("content-length-understates", content_length("10", 100 * 1024), TOO_LARGE),
    Hostile("content-length-overstates", content_length(str(10 * LIMIT), 10), TOO_LARGE),
    Hostile("content-length-not-a-number", content_length("abc", 10), INVALID),
    Hostile("content-length-negative", content_length("-1", 10), INVALID),
    Hostile("content-length-exponent", content_length("1e3", 10), INVALID),
    # Media types: state-changing API calls take JSON only.
    Hostile("text-plain", media_type("text/plain", _dump), NOT_JSON),
    Hostile("form-urlencoded", media_type("application/x-www-form-urlencoded", _form), NOT_JSON),
    Hostile("multipart", media_type("multipart/form-data; boundary=XyZ", _multipart), NOT_JSON),
    Hostile("no-content-type", media_type(None, _dump), NOT_JSON),
    Hostile("xml", media_type("application/xml", lambda _: b"<email>x</email>"), NOT_JSON),
    # Control characters, lone surrogates and invisible characters in an address.
    Hostile("email-nul", with_role("email", "eve\x00@example.com"), INVALID),
    Hostile("email-newline", with_role("email", "eve\n@example.com"), INVALID),
    Hostile("email-trailing-newline", with_role("email", "eve@example.com\n"), INVALID),
    Hostile("email-header-injection", with_role("email", "eve@example.com\r\nBcc: x@y.z"), INVALID),
    Hostile("email-tab", with_role("email", "eve\t@example.com"), INVALID),
    Hostile("email-rtl-override", with_role("email", "eve\u202e@example.com"), INVALID),
    Hostile("email-zero-width-joiner", with_role("email", "e\u200dve@example.com"), INVALID),
    Hostile("email-lone-surrogate", with_raw_role("email", r'"eve\ud800@example.com"'), INVALID),
    Hostile(
        "password-lone-surrogate", with_raw_role("password", r'"\ud800' + "x" * 20 + '"'), INVALID
    ),
    Hostile(
        "password-low-surrogate", with_raw_role("password", r'"x\udfff' + "x" * 20 + '"'), INVALID
    ),
    Hostile("password-nul", with_role("password", "correct horse\x00battery staple"), INVALID),
    Hostile("token-lone-surrogate", with_raw_role("token", r'"abc\ud800"'), INVALID),
    Hostile("code-as-number", with_role("code", 123456), INVALID),
    Hostile("code-as-list", with_role("code", ["123456"]), INVALID),
    Hostile("code-nul", with_role("code", "123\x00456"), INVALID),
    Hostile("code-lone-surrogate", with_raw_role("code", r'"123\ud800"'), INVALID),
    Hostile("method-unknown", with_role("method", "email"), INVALID),
    Hostile("method-as-list", with_role("method", ["totp"]), INVALID),
    Hostile("phone-as-number", with_role("phone", 4915123456789), INVALID),
    Hostile("phone-nul", with_role("phone", "+49151\x0023456789"), INVALID),
    Hostile("phone-letters", with_role("phone", "call me maybe"), NO_SUCH_PHONE),
    Hostile("phone-sql", with_role("phone", "+49'; DROP TABLE sms_credentials; --"), NO_SUCH_PHONE),
    Hostile("code-sql", with_role("code", "' OR 1=1 --"), ANY),
    Hostile("text-as-number", with_role("text", 42), INVALID),
    Hostile("text-as-object", with_role("text", {"story": "lost"}), INVALID),
    Hostile("text-nul", with_role("text", "lost\x00phone"), INVALID),
    Hostile("text-escape-sequence", with_role("text", "lost \x1b[2J phone"), INVALID),
    Hostile("text-lone-surrogate", with_raw_role("text", r'"lost \ud800"'), INVALID),
    Hostile("text-60kb", with_role("text", "x" * 60 * 1024), INVALID),
    Hostile("text-html", with_role("text", "<script>alert(1)</script> lost phone"), ANY),
    # SQL-looking text: refused where it is no address or token, harmless where it is a password.
    Hostile("sql-in-email", with_role("email", "' OR 1=1 --"), INVALID),
    Hostile("sql-in-token", with_role("token", "' OR 1=1 --"), INVALID),
    Hostile("sql-shaped-valid-email", with_role("email", "o'neil--@example.com"), ANY),
    Hostile(
        "sql-in-password", with_role("password", "x' OR '1'='1'; DROP TABLE accounts; --"), ANY
    ),
    # Odd but legitimate Unicode: handled as text, whatever the use case decides.
    Hostile("email-emoji-local-part", with_role("email", "\U0001f600@example.com"), ANY),
    Hostile("email-combining-accent", with_role("email", "e\u0301ve@example.com"), ANY),
    Hostile("email-idn-domain", with_role("email", "eve@b\u00fccher.example"), ANY),
    Hostile("password-odd-unicode", with_role("password", ODD_PASSWORD), ANY),
    # Absurd nesting must be refused, not crash the parser or the validator.
    Hostile("nested-arrays-10000", raw(b"[" * 10000 + b"]" * 10000), INVALID),
    Hostile("nested-objects-10000", raw(b'{"a":' * 10000 + b"1" + b"}" * 10000), INVALID),
    Hostile("nested-in-field-10000", nested_in_field(10000), INVALID),
    Hostile("nested-arrays-32000", raw(b"[" * 32000 + b"]" * 32000), INVALID),
]


def _cases() -> Iterator[Any]:
    for endpoint in ENDPOINTS:
        for hostile in HOSTILE:
            request = hostile.build(endpoint)
            if request is not None:
                yield pytest.param(
                    endpoint, request, hostile.expect, id=f"{endpoint.name}-{hostile.name}"
                )


# --------------------------------------------------------------------------- helpers


def row_counts(services: Services) -> dict[str, int]:
    with services.engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }


def catalogue(client: TestClient) -> dict[str, int]:
    answer = client.get(f"{API}/errors")
    assert answer.status_code == 200
    return {item["code"]: item["status"] for item in answer.json()}


def assert_envelope(response: Response, codes: dict[str, int]) -> dict[str, Any]:
    """API.md's error envelope, with a catalogued code and the request's reference."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    for key in ("code", "message", "help_url", "reference"):
        assert isinstance(error.get(key), str), (key, body)
        assert error[key], (key, body)
    assert error["code"] in codes, body
    assert codes[error["code"]] == response.status_code, body
    assert error["reference"] == response.headers["x-request-id"], body
    if error["code"] == "validation_error":
        assert error["fields"], body
        assert all(set(item) == {"field", "message"} for item in error["fields"]), body
    return dict(error)


def sign_in(client: TestClient, services: Services) -> dict[str, str]:
    make_account(services, "ada@example.com", PASSWORD)
    answer = client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['session']['token']}"}


def send(client: TestClient, path: str, request: Request, auth: dict[str, str]) -> Response:
    headers = {**request.headers, **auth}
    if request.chunked:
        chunks = [request.content[i : i + 4096] for i in range(0, len(request.content), 4096)]
        return client.post(path, content=iter(chunks), headers=headers)
    return client.post(path, content=request.content, headers=headers)


def _printable(text: str) -> bool:
    return not any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in text)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("endpoint", "request_", "expect"), list(_cases()))
def test_hostile_body_is_answered_cleanly(
    fresh: tuple[Services, TestClient], endpoint: Endpoint, request_: Request, expect: Expect
) -> None:
    services, client = fresh
    codes = catalogue(client)
    auth = sign_in(client, services) if endpoint.signed_in else {}
    before = row_counts(services)

    response = send(client, endpoint.path, request_, auth)

    assert response.status_code < 500, response.text
    assert response.headers["x-request-id"]
    for secret in (PASSWORD, NEW_PASSWORD):  # a refusal names the field, never echoes its value
        assert secret not in response.text
    if expect.status is not None:
        assert response.status_code == expect.status, response.text
    if response.is_success:
        error = None
    else:
        error = assert_envelope(response, codes)
        if expect.code is not None:
            assert error["code"] == expect.code, error
    after = row_counts(services)
    if error is not None and error["code"] in EARLY_CODES:
        assert after == before, "a request refused as malformed changed stored state"
    if endpoint.name == "register":
        if error is not None:
            assert after["accounts"] == 0, after
            assert after["outbox"] == 0, after
        else:  # accepted: stored verbatim as text, by parameter, never as SQL or garbage
            with services.engine.connect() as conn:
                [stored] = conn.execute(sa.select(accounts.c.email)).scalars().all()
            assert _printable(stored), repr(stored)
    if endpoint.signed_in and error is not None:
        assert client.get(f"{API}/me", headers=auth).status_code == 200  # session untouched


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{API}/no-such-thing"),
        ("GET", "/no-such-page"),
        ("POST", "/api/v2/accounts"),
        # No 307 to the path without the slash: its Location would come from the Host header,
        # and the client would resend the body (a password) there.
        ("POST", f"{API}/login/"),
        ("GET", f"{API}/errors/"),
    ],
)
def test_unknown_path_is_not_found_in_the_envelope(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(
        method, path, json={} if method == "POST" else None, headers={"Host": "evil.example"}
    )
    assert response.status_code == 404
    assert assert_envelope(response, catalogue(client))["code"] == "not_found"
    assert "location" not in response.headers


def test_control_characters_in_the_path_cannot_forge_log_lines(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "x%0d%0a2026-11-27 INFO accessguard.request status=200%00"
    with caplog.at_level(logging.INFO, logger="accessguard.request"):
        client.get(f"{API}/{forged}")
    [line] = [r.getMessage() for r in caplog.records if r.name == "accessguard.request"]
    assert "x%0D%0A2026-11-27%20INFO" in line  # encoded again, on the one line
    assert not any(ch in line for ch in "\r\n\x00")
    assert line.count(" status=") == 1  # a space cannot start a field of its own


def test_head_answers_as_get_without_the_body_on_probes_pages_and_the_api(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    for path in ("/healthz", "/readyz", "/status", "/login", "/help", f"{API}/errors"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == str(len(got.content)), path
    with caplog.at_level(logging.INFO, logger="accessguard.request"):
        refused = client.head(f"{API}/login")  # a POST-only route: 405, as for GET
    assert refused.status_code == 405
    assert refused.content == b""
    assert refused.headers["x-request-id"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "accessguard.request"]
    assert "method=HEAD " in line


def test_email_longer_than_64_characters_before_the_at_is_refused(client: TestClient) -> None:
    body = {"email": "a" * 65 + "@example.com", "password": PASSWORD}
    response = client.post(f"{API}/accounts", json=body)
    assert response.status_code == 422
    assert assert_envelope(response, catalogue(client))["code"] == "validation_error"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", f"{API}/accounts", "POST"),
        ("PUT", f"{API}/login", "POST"),
        ("DELETE", f"{API}/password/forgot", "POST"),
        ("POST", f"{API}/errors", "GET"),
        ("POST", "/healthz", "GET"),
    ],
)
def test_wrong_method_is_method_not_allowed_in_the_envelope(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert assert_envelope(response, catalogue(client))["code"] == "method_not_allowed"
    assert allowed in response.headers["allow"]  # RFC 9110 §15.5.6


def test_json_with_a_charset_parameter_is_json(client: TestClient) -> None:
    response = client.post(
        f"{API}/accounts",
        content=b"{}",
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 422
    assert assert_envelope(response, catalogue(client))["code"] == "validation_error"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("utf-16", json.dumps({"email": "ada@example.com", "password": PASSWORD}).encode("utf-16")),
        ("utf-32", json.dumps({"email": "ada@example.com", "password": PASSWORD}).encode("utf-32")),
        (
            "bom",
            b"\xef\xbb\xbf"
            + json.dumps({"email": "ada@example.com", "password": PASSWORD}).encode(),
        ),
        (
            "nan",
            b'{"email": "ada@example.com", "password": "'
            + PASSWORD.encode()
            + b'", "device_token": NaN}',
        ),
        (
            "repeated key",
            b'{"email": "eve@example.com", "email": "ada@example.com", "password": "'
            + PASSWORD.encode()
            + b'"}',
        ),
    ],
)
def test_only_plain_utf8_json_is_read(
    client: TestClient, services: Services, name: str, body: bytes
) -> None:
    """API.md's bodies are UTF-8 JSON. Python's parser also reads UTF-16 and -32, a BOM, NaN
    and a repeated key (the last wins, where a proxy in front may read the first)."""
    make_account(services)
    response = client.post(f"{API}/login", content=body, headers=JSON)
    assert response.status_code == 422, (name, response.text)
    error = assert_envelope(response, catalogue(client))
    assert error["code"] == "validation_error"
    assert error["fields"][0]["field"] == "body"
    assert PASSWORD not in response.text


def test_odd_unicode_password_signs_in_and_its_canonical_twin_too(
    client: TestClient, services: Services
) -> None:
    make_account(services, "ada@example.com", ODD_PASSWORD)
    for spelling in (ODD_PASSWORD, unicodedata.normalize("NFC", ODD_PASSWORD)):
        answer = client.post(
            f"{API}/login", json={"email": "ada@example.com", "password": spelling}
        )
        assert answer.status_code == 200, answer.text


def test_sql_shaped_password_is_only_a_password(client: TestClient, services: Services) -> None:
    password = "x' OR '1'='1'; DROP TABLE accounts; --"
    make_account(services, "ada@example.com", password)
    wrong = client.post(
        f"{API}/login", json={"email": "ada@example.com", "password": "' OR 1=1 --"}
    )
    assert wrong.status_code == 401
    right = client.post(f"{API}/login", json={"email": "ada@example.com", "password": password})
    assert right.status_code == 200
    assert row_counts(services)["accounts"] == 1


def test_unhandled_exception_is_internal_error_revealing_nothing(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(services=services, run_outbox_worker=False)

    @app.get("/api/v1/test-only/boom")
    def boom() -> None:
        raise RuntimeError("secret detail: postgresql://admin:hunter2@db/accounts")

    caplog.set_level(logging.INFO)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        response = client.get("/api/v1/test-only/boom")
        codes = catalogue(client)

    assert response.status_code == 500
    error = assert_envelope(response, codes)
    assert error["code"] == "internal_error"
    for secret in ("secret detail", "hunter2", "RuntimeError", "Traceback", "boom"):
        assert secret not in response.text
    reference = error["reference"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(reference in r.getMessage() for r in logged), caplog.text
    assert any(
        reference in r.getMessage() and "status=500" in r.getMessage() for r in caplog.records
    )
