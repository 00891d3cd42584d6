"""Password sign-in: generic refusals, verification, lockout that spares known devices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, make_account

LOGIN = "/api/v1/login"


def login(client: TestClient, email: str, password: str, **extra: object) -> dict:
    response = client.post(LOGIN, json={"email": email, "password": password, **extra})
    return {"status": response.status_code, "body": response.json(), "response": response}


def test_correct_password_gives_session_and_device_token(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    result = login(client, "ada@example.com", PASSWORD)
    assert result["status"] == 200
    assert result["body"]["status"] == "authenticated"
    token = result["body"]["session"]["token"]
    assert len(token) >= 32
    assert result["body"]["device_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"


def test_session_cookie_is_host_prefixed_httponly_lax(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    result = login(client, "ada@example.com", PASSWORD)
    cookies = result["response"].headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("__Host-ag_session="))
    assert "HttpOnly" in session
    assert "Secure" in session
    assert "Path=/" in session
    assert "samesite=lax" in session.lower()
    assert "Domain" not in session


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    wrong = login(client, "ada@example.com", "not the right password at all")
    unknown = login(client, "nobody@example.com", "not the right password at all")
    assert wrong["status"] == unknown["status"] == 401
    for result in (wrong, unknown):
        body = result["body"]["error"]
        assert body["code"] == "invalid_credentials"
        assert body["message"] == "Incorrect email or password."
        assert "attempts_left" not in body
    assert set(wrong["body"]["error"]) == set(unknown["body"]["error"])


def test_unverified_email_is_told_only_after_correct_password(
    client: TestClient, services: Services
) -> None:
    make_account(services, verified=False)
    assert (
        login(client, "ada@example.com", "wrong password for sure")["body"]["error"]["code"]
        == "invalid_credentials"
    )
    assert (
        login(client, "ada@example.com", PASSWORD)["body"]["error"]["code"] == "email_not_verified"
    )


def test_threshold_failures_lock_with_retry_after(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    make_account(services)
    errors = [
        login(client, "ada@example.com", f"wrong password number {i}")["body"]["error"]
        for i in range(5)
    ]
    # Each was a wrong password and is answered as one; the one that locked says until when.
    assert [e["code"] for e in errors] == ["invalid_credentials"] * 5
    assert [e.get("locked_until") for e in errors[:4]] == [None] * 4
    ends = clock.now() + timedelta(seconds=900)
    assert errors[4]["locked_until"] == ends.isoformat(timespec="seconds")
    locked = login(client, "ada@example.com", PASSWORD)
    assert locked["status"] == 423
    assert locked["body"]["error"]["code"] == "account_locked"
    assert locked["body"]["error"]["retry_after"] == 900
    assert locked["response"].headers["Retry-After"] == "900"


def test_lock_lifts_by_itself_and_doubles_when_abused_again(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    make_account(services)
    for i in range(5):
        login(client, "ada@example.com", f"wrong password number {i}")
    clock.advance(seconds=901)
    for i in range(5):
        assert login(client, "ada@example.com", f"again wrong {i}")["status"] == 401
    second = login(client, "ada@example.com", "again wrong 5")
    assert second["body"]["error"]["code"] == "account_locked"
    assert second["body"]["error"]["retry_after"] == 1800
    clock.advance(seconds=1801)
    assert login(client, "ada@example.com", PASSWORD)["status"] == 200


def test_email_variants_share_one_counter(client: TestClient, services: Services) -> None:
    make_account(services)
    variants = [
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        "  Ada@Example.com ",
        "\uff41\uff44\uff41@example.com",  # fullwidth letters
        "ada@EXAMPLE.com",
    ]
    for variant in variants:
        login(client, variant, "a wrong password typed again")
    assert login(client, "ada@example.com", PASSWORD)["body"]["error"]["code"] == "account_locked"


def test_unknown_email_locks_like_a_real_one(client: TestClient, services: Services) -> None:
    make_account(services)

    def answers(email: str) -> list[tuple[int, str, bool]]:
        answered = [login(client, email, f"wrong password number {i}") for i in range(7)]
        return [
            (a["status"], a["body"]["error"]["code"], "locked_until" in a["body"]["error"])
            for a in answered
        ]

    ghost = answers("ghost@example.com")
    assert ghost == answers("ada@example.com")
    assert ghost[4:] == [
        (401, "invalid_credentials", True),
        (423, "account_locked", True),
        (423, "account_locked", True),
    ]


def test_known_device_is_not_locked_by_failures_elsewhere(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    make_account(services)
    owner = client_factory(services)
    device_token = login(owner, "ada@example.com", PASSWORD)["body"]["device_token"]
    attacker = client_factory(services)
    for i in range(8):
        login(attacker, "ada@example.com", f"guess number {i} of many")
    assert login(attacker, "ada@example.com", PASSWORD)["status"] == 423
    # The browser keeps its device cookie; an app sends the token in the body.
    assert login(owner, "ada@example.com", PASSWORD)["status"] == 200
    app = client_factory(services)
    assert login(app, "ada@example.com", PASSWORD, device_token=device_token)["status"] == 200


def test_known_device_has_its_own_counter(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    make_account(services)
    device = client_factory(services)
    login(device, "ada@example.com", PASSWORD)
    codes = [
        login(device, "ada@example.com", f"typo number {i}")["body"]["error"]["code"]
        for i in range(6)
    ]
    assert codes[-2:] == ["invalid_credentials", "account_locked"]
    stranger = client_factory(services)
    assert login(stranger, "ada@example.com", PASSWORD)["status"] == 200


def test_forged_device_token_counts_as_unknown_device(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    for i in range(5):
        login(client, "ada@example.com", f"wrong password number {i}")
    forged = login(client, "ada@example.com", PASSWORD, device_token="abc.def")
    assert forged["status"] == 423


def test_another_accounts_device_token_does_not_lift_the_email_lock(
    client_factory: Callable[..., TestClient], services: Services
) -> None:
    make_account(services)
    make_account(services, "grace@example.com")
    graces = client_factory(services)
    device_token = login(graces, "grace@example.com", PASSWORD)["body"]["device_token"]
    attacker = client_factory(services)
    for i in range(5):
        login(attacker, "ada@example.com", f"wrong password number {i}")
    borrowed = login(attacker, "ada@example.com", PASSWORD, device_token=device_token)
    assert borrowed["status"] == 423


def test_success_resets_its_own_counter(client: TestClient, services: Services) -> None:
    make_account(services)
    for i in range(4):
        login(client, "ada@example.com", f"wrong password number {i}")
    assert login(client, "ada@example.com", PASSWORD)["status"] == 200
    for i in range(4):
        assert login(client, "ada@example.com", f"wrong again {i}")["status"] == 401


def test_address_spraying_many_accounts_is_throttled(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    client = client_factory(address_failure_limit=6)
    for i in range(6):
        login(client, f"user{i}@example.com", "spray password 2024!")
    throttled = login(client, "user99@example.com", "spray password 2024!")
    assert throttled["status"] == 429
    assert throttled["body"]["error"]["code"] == "too_many_requests"
    assert throttled["body"]["error"]["retry_after"] > 0


def test_forged_forwarded_for_does_not_escape_the_address_throttle(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(address_failure_limit=3)
    for i in range(3):
        client.post(
            LOGIN,
            json={"email": f"u{i}@example.com", "password": "spray spray spray"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        )
    again = client.post(
        LOGIN,
        json={"email": "z@example.com", "password": "spray spray spray"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert again.status_code == 429


def test_old_hash_is_upgraded_on_next_sign_in(
    services_factory: Callable[..., Services], client_factory: Callable[..., TestClient]
) -> None:
    old = services_factory()
    make_account(old)
    stronger = services_factory(argon2_time_cost=2, argon2_memory_kib=2048)
    client = client_factory(stronger)
    assert login(client, "ada@example.com", PASSWORD)["status"] == 200
    with stronger.uow() as uow:
        account = uow.accounts.by_email_key("ada@example.com")
    assert account is not None
    assert "m=2048,t=2" in account.password_hash
    assert login(client, "ada@example.com", PASSWORD)["status"] == 200


def test_history_records_every_attempt_newest_first(client: TestClient, services: Services) -> None:
    make_account(services)
    login(client, "ada@example.com", "wrong password number one")
    token = login(client, "ada@example.com", PASSWORD)["body"]["session"]["token"]
    history = client.get(
        "/api/v1/me/login-history", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert [h["outcome"] for h in history] == ["success", "invalid_credentials"]
    assert history[0]["ip"] == "testclient"
