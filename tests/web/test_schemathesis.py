"""Property-based contract test: schemathesis drives every operation of /openapi.json in-process.

Every built-in schemathesis check runs (not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance, response_headers_conformance,
positive_data_acceptance, negative_data_rejection, missing_required_header,
unsupported_method, …) plus two of ours:

- `error_envelope`: every non-2xx answer is the envelope of API.md, with a catalogued code and
  the request's reference (equal to X-Request-ID);
- `valid_data_is_not_malformed`: a schema-valid request may be refused only for what no
  schema can express (an unknown or used token, the runtime password policy, the form of a
  one-time code, which is its method's to say), never otherwise as a `validation_error`.

The app under test is built once for the module on a temporary SQLite database, with
throttles and lockouts out of the way (they are tested elsewhere).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from email_validator import EmailNotValidError, validate_email
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from accessguard.bootstrap import build_services
from accessguard.domain.catalogue import CATALOGUE
from accessguard.settings import Settings
from accessguard.storage.sql.migrate import upgrade
from accessguard.web.app import create_app
from tests.conftest import FAST_HASH, TEST_KEY
from tests.support import PASSWORD, make_account

CODES = {entry.code.value for entry in CATALOGUE.values()}
OWNER = "fuzz-owner@example.com"
API = "/api/v1"

# What a schema-valid body may still be refused with, and why (see valid_data_is_not_malformed).
TOKEN_REFUSALS = {"verification_token_invalid", "reset_token_invalid", "recovery_token_invalid"}
POLICY_REFUSALS = {
    "password_too_short",
    "password_too_long",
    "password_too_common",
    "phone_number_invalid",
}
DEFAULT_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def _accepting(paths: list[str], *statuses: str) -> dict[str, Any]:
    return {
        "include-path": [API + path for path in paths],
        "checks": {
            "positive_data_acceptance": {"expected-statuses": [*DEFAULT_ACCEPTED, *statuses]}
        },
    }


CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            # A well-formed token the service never issued: 400 by API.md.
            _accepting(["/accounts/verify-email", "/recovery/requests/cancel"], "400"),
            # New passwords meet a policy set at run time (length, breached list): 422 by API.md.
            _accepting(["/accounts", "/me/password"], "422"),
            _accepting(["/password/reset"], "400", "422"),
            # Which phone numbers exist no schema can say (libphonenumber's metadata does).
            _accepting(["/me/mfa/sms"], "422"),
            # A password is not to be written in the recovery details, which support reads.
            _accepting(["/recovery/requests"], "422"),
            # What a code looks like is its method's to say (an app's six digits, a recovery
            # code's ten characters, as typed): a malformed one is refused before it counts.
            _accepting(
                [
                    "/login/mfa",
                    "/me/mfa/totp",
                    "/me/mfa/totp/confirm",
                    "/me/mfa/sms/confirm",
                    "/me/recovery-codes",
                ],
                "422",
            ),
        ]
    }
)


def _deliverable(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


# `format: email` as this API means it: special-use domains (.test, .localhost, …) are refused,
# which Hypothesis' own e-mail strategy happily produces.
schemathesis.openapi.format(
    "email",
    st.emails(domains=st.sampled_from(["example.com", "mail.example.org", "xn--bcher-kva.example"]))
    .filter(lambda address: len(address) <= 320)
    .filter(_deliverable),
)


def _document_app() -> FastAPI:
    """The same create_app, used only to serve /openapi.json at collection time.

    Its database (in a directory that does not exist) is never opened: the cases are sent to
    the module's `app`. schemathesis.pytest.from_fixture would avoid this, but it fails under
    pytest 9 ('Function' object has no attribute '_nodeid').
    """
    unopened = Path(tempfile.gettempdir()) / "accessguard-no-such-dir" / "never-opened.db"
    config = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{unopened}", secret_keys=[TEST_KEY], **FAST_HASH
    )
    return create_app(config, run_outbox_worker=False)


schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app(), config=CONFIG)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    database = tmp_path_factory.mktemp("schemathesis") / "accessguard.db"
    config = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="development",
        public_url="https://accounts.example.test",
        secret_keys=[TEST_KEY],
        database_url=f"sqlite:///{database}",
        address_request_limit=1_000_000,
        address_failure_limit=1_000_000,
        lockout_threshold=1000,
        **FAST_HASH,
    )
    services = build_services(config)
    upgrade(services.engine)
    make_account(services, OWNER, PASSWORD)
    yield create_app(services=services, run_outbox_worker=False)
    services.close()


@pytest.fixture(scope="module")
def sign_in(app: FastAPI) -> Iterator[Callable[[], str]]:
    """A fresh session per case: generated cases sign out, revoke sessions, change passwords."""
    with TestClient(app, base_url="https://testserver") as client:

        def token() -> str:
            answer = client.post(f"{API}/login", json={"email": OWNER, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            return str(answer.json()["session"]["token"])

        yield token


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict), body
    return error


def error_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """API.md: every non-2xx answer is {"error": {code, message, help_url, reference, …}}."""
    if 200 <= response.status_code < 300:
        return None
    error = _error(response)
    for key in ("code", "message", "help_url", "reference"):
        assert isinstance(error.get(key), str), (key, error)
    assert error["code"] in CODES, error
    assert error["help_url"] == f"/help/{error['code']}", error
    [request_id] = response.headers["x-request-id"]
    assert error["reference"] == request_id, (error, request_id)
    assert response.status_code < 500, error
    return True


def _only_the_code(error: dict[str, Any]) -> bool:
    fields = {field["field"] for field in error.get("fields", [])}
    return fields == {"body.code"}


def valid_data_is_not_malformed(ctx: Any, response: Any, case: Any) -> bool | None:
    """The per-operation 400 and 422 allowances of CONFIG, held to the codes that justify them."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        assert _error(response)["code"] in TOKEN_REFUSALS, response.json()
    if response.status_code == 422:
        error = _error(response)
        if error["code"] == "validation_error" and _only_the_code(error):
            return True  # a code's form, its method's to say (schemas.MfaCode)
        assert error["code"] in POLICY_REFUSALS, response.json()
    return True


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_honours_the_contract(
    case: Any, app: FastAPI, sign_in: Callable[[], str]
) -> None:
    headers = {}
    if case.path.startswith((f"{API}/me", f"{API}/logout")):
        headers["Authorization"] = f"Bearer {sign_in()}"
    case.call_and_validate(
        app=app,
        headers=headers,
        additional_checks=[error_envelope, valid_data_is_not_malformed],
    )
