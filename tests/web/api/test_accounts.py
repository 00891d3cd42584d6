"""Registration and email verification answer alike for known and unknown addresses."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.accounts import PLAIN_ONLY
from accessguard.domain.emails import email_key
from accessguard.storage.sql.tables import audit_events, outbox
from tests.support import PASSWORD, SettableClock, inbox, make_account, token_from


def register(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/api/v1/accounts", json={"email": email, "password": password})
    return {"status": response.status_code, "body": response.json()}


def test_registration_sends_a_verification_link_that_confirms_the_email(
    client: TestClient, services: Services
) -> None:
    assert register(client, "new@example.com") == {
        "status": 202,
        "body": {"status": "verification_sent"},
    }
    [mail] = inbox(services, "new@example.com")
    assert "https://accounts.example.test/verify-email?token=" in mail["body"]
    token = token_from(mail["body"], "/verify-email")
    verified = client.post("/api/v1/accounts/verify-email", json={"token": token})
    assert verified.status_code == 200
    assert verified.json() == {"status": "verified"}
    login = client.post("/api/v1/login", json={"email": "new@example.com", "password": PASSWORD})
    assert login.status_code == 200


def test_a_verification_link_followed_again_says_the_address_is_confirmed(
    client: TestClient, services: Services
) -> None:
    # Back and click again, or open the mail on another device: done, not "invalid".
    register(client, "new@example.com")
    token = token_from(inbox(services, "new@example.com")[0]["body"], "/verify-email")
    assert client.post("/api/v1/accounts/verify-email", json={"token": token}).status_code == 200
    again = client.post("/api/v1/accounts/verify-email", json={"token": token})
    assert again.status_code == 200
    assert again.json() == {"status": "verified"}
    with services.engine.connect() as conn:
        events = conn.execute(sa.select(audit_events.c.kind)).scalars().all()
    assert events.count("email_verified") == 1


def test_verification_link_expires(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    register(client, "new@example.com")
    token = token_from(inbox(services, "new@example.com")[0]["body"], "/verify-email")
    clock.advance(seconds=86401)
    expired = client.post("/api/v1/accounts/verify-email", json={"token": token})
    assert expired.json()["error"]["code"] == "verification_token_invalid"


def test_taken_email_gets_the_same_answer_and_the_owner_a_notice(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    inbox(services, "ada@example.com")
    answer = register(client, "ADA@example.com", "another long password for me")
    assert answer == {"status": 202, "body": {"status": "verification_sent"}}
    [notice] = inbox(services, "ada@example.com")
    assert "/verify-email?token=" not in notice["body"]
    assert "already" in notice["subject"].lower() or "already" in notice["body"].lower()


def test_resend_voids_the_older_link(client: TestClient, services: Services) -> None:
    register(client, "new@example.com")
    first = token_from(inbox(services, "new@example.com")[0]["body"], "/verify-email")
    resend = client.post("/api/v1/accounts/verify-email/resend", json={"email": "new@example.com"})
    assert resend.status_code == 202
    second = token_from(inbox(services, "new@example.com")[-1]["body"], "/verify-email")
    assert client.post("/api/v1/accounts/verify-email", json={"token": first}).status_code == 400
    assert client.post("/api/v1/accounts/verify-email", json={"token": second}).status_code == 200


def test_resend_for_unknown_email_answers_202(client: TestClient) -> None:
    response = client.post(
        "/api/v1/accounts/verify-email/resend", json={"email": "nobody@example.com"}
    )
    assert response.status_code == 202


def test_weak_passwords_are_refused_with_their_own_codes(
    client: TestClient, services: Services
) -> None:
    short = register(client, "a@example.com", "short pass")
    common = register(client, "a@example.com", "passwordpassword")
    long = register(client, "a@example.com", "x" * 300)
    assert (short["status"], short["body"]["error"]["code"]) == (422, "password_too_short")
    assert short["body"]["error"]["min_length"] == 15
    assert (common["status"], common["body"]["error"]["code"]) == (422, "password_too_common")
    assert (long["status"], long["body"]["error"]["code"]) == (422, "password_too_long")
    assert inbox(services, "a@example.com") == []


@pytest.mark.parametrize("length", [257, 5000, 60_000])
def test_a_password_too_long_is_told_so_at_any_length(client: TestClient, length: int) -> None:
    # Only the body limit bounds what is sent; the policy's own limit answers, with its figure.
    refused = register(client, "a@example.com", "x" * length)
    error = refused["body"]["error"]
    assert (refused["status"], error["code"], error["max_length"]) == (
        422,
        "password_too_long",
        256,
    ), error


def test_any_unicode_password_is_accepted_and_normalised(
    client: TestClient, services: Services
) -> None:
    composed = "ünïcödé pässwörd 🦊 long enough"
    make_account(services, "uni@example.com", composed)
    decomposed = "u\u0308nïcödé pässwörd 🦊 long enough"
    login = client.post("/api/v1/login", json={"email": "uni@example.com", "password": decomposed})
    assert login.status_code == 200


def test_invalid_email_is_a_validation_error_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/accounts", json={"email": "not-an-email", "password": PASSWORD})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    [field] = error["fields"]
    assert field["field"] == "body.email"
    assert field["message"] == "must be a whole address, such as name@example.com"


def test_registering_an_unconfirmed_address_again_lets_the_inbox_owner_choose_the_password(
    client: TestClient, services: Services
) -> None:
    # Someone who knew the address registered it first, with their own password. Its owner
    # registers later: a confirmation link would hand the account to the first registrant,
    # so the owner gets a link to choose the password instead, and the old link dies.
    first = register(client, "new@example.com", "the first registrant's password")
    assert first["status"] == 202
    [first_mail] = inbox(services, "new@example.com")
    first_link = token_from(first_mail["body"], "/verify-email")
    assert register(client, "new@example.com")["status"] == 202
    first_again, finish = inbox(services, "new@example.com")  # the mailbox keeps every mail
    assert first_again == first_mail
    assert "/verify-email" not in finish["body"]
    dead = client.post("/api/v1/accounts/verify-email", json={"token": first_link})
    assert dead.json()["error"]["code"] == "verification_token_invalid"
    chosen = client.post(
        "/api/v1/password/reset",
        json={"token": token_from(finish["body"], "/reset-password"), "new_password": PASSWORD},
    )
    assert chosen.status_code == 204
    owner = client.post("/api/v1/login", json={"email": "new@example.com", "password": PASSWORD})
    assert owner.status_code == 200
    squatter = {"email": "new@example.com", "password": "the first registrant's password"}
    assert client.post("/api/v1/login", json=squatter).status_code == 401
    # A new account's first password: nothing to hold, no "your password was changed" alarm.
    bearer = {"Authorization": f"Bearer {owner.json()['session']['token']}"}
    assert client.get("/api/v1/me", headers=bearer).json()["security_hold_until"] is None
    assert len(inbox(services, "new@example.com")) == 2


def test_the_finish_link_lasts_as_long_as_the_confirmation_link_the_answer_names(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    register(client, "new@example.com", "the first registrant's password")
    register(client, "new@example.com")
    finish = token_from(inbox(services, "new@example.com")[-1]["body"], "/reset-password")
    clock.advance(seconds=services.rules.verify_token_seconds - 60)
    chosen = client.post("/api/v1/password/reset", json={"token": finish, "new_password": PASSWORD})
    assert chosen.status_code == 204


def confirming_gives_the_first_registrant_nothing(client: TestClient, mail: dict) -> None:
    confirm = {"token": token_from(mail["body"], "/verify-email")}
    assert client.post("/api/v1/accounts/verify-email", json=confirm).status_code == 200
    squatter = {"email": "new@example.com", "password": "the first registrant's password"}
    assert client.post("/api/v1/login", json=squatter).status_code == 401


def test_a_resend_after_the_owner_signed_up_again_sends_the_link_to_choose_the_password(
    client: TestClient, services: Services
) -> None:
    # A confirmation would confirm an account nobody can sign in to (its first password is
    # void), and could hand it to the first registrant were it not.
    register(client, "new@example.com", "the first registrant's password")
    register(client, "new@example.com")  # the owner: a link to choose the password
    client.post("/api/v1/accounts/verify-email/resend", json={"email": "new@example.com"})
    first_finish, newest = inbox(services, "new@example.com")[-2:]
    assert "/verify-email" not in newest["body"]
    old = {"token": token_from(first_finish["body"], "/reset-password"), "new_password": PASSWORD}
    assert client.post("/api/v1/password/reset", json=old).status_code == 400  # replaced
    chosen = {"token": token_from(newest["body"], "/reset-password"), "new_password": PASSWORD}
    assert client.post("/api/v1/password/reset", json=chosen).status_code == 204
    owner = {"email": "new@example.com", "password": PASSWORD}
    assert client.post("/api/v1/login", json=owner).status_code == 200
    squatter = {"email": "new@example.com", "password": "the first registrant's password"}
    assert client.post("/api/v1/login", json=squatter).status_code == 401


def test_a_parallel_sign_up_carried_out_last_cannot_hand_over_the_account(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # Two workers may carry out two sign-ups of one address in either order: here the one
    # that created the account comes last, after the other offered the owner the finish link.
    register(client, "new@example.com", "the first registrant's password")
    register(client, "new@example.com")
    creating = sa.select(sa.func.min(outbox.c.id))
    with services.engine.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == creating.scalar_subquery())
            .values(next_attempt_at=clock.now() + timedelta(minutes=1))
        )
    [finish] = inbox(services, "new@example.com")
    assert token_from(finish["body"], "/reset-password")
    clock.advance(minutes=2)
    confirming_gives_the_first_registrant_nothing(client, inbox(services, "new@example.com")[-1])


@pytest.mark.parametrize(
    "spelling",
    [
        "\uff53\uff51\uff55\uff41\uff54\uff17@example.com",  # full-width squat7@example.com
        "x\ufe50by\u2026\ufe6bthird.example\ufe50@victim.example",  # small comma and at sign
    ],
)
def test_a_spelling_that_folds_into_another_address_cannot_open_an_account(
    client: TestClient, services: Services, spelling: str
) -> None:
    # Its key would be another address's (or several), while mail went to what was typed.
    refused = register(client, spelling, "a squatter's password")
    assert refused["status"] == 422
    assert refused["body"]["error"]["fields"] == [
        {"field": "body.email", "message": PLAIN_ONLY},
    ]
    with services.uow(read_only=True) as uow:
        assert uow.accounts.by_email_key(email_key(spelling)) is None
    assert register(client, "squat7@example.com")["status"] == 202
    [confirm] = inbox(services, "squat7@example.com")  # the real owner signs up as usual
    assert token_from(confirm["body"], "/verify-email")


def test_addresses_that_differ_by_sharp_s_and_ss_are_two_accounts(
    client: TestClient, services: Services
) -> None:
    # Two mailboxes (and, under IDNA 2008, two domains): full case folding made them one
    # key, so the second owner could never sign up and signed in to the first's account.
    assert register(client, "straße@example.com")["status"] == 202
    assert register(client, "STRASSE@example.com", "the other owner's passphrase")["status"] == 202
    for address in ("straße@example.com", "STRASSE@example.com"):
        [mail] = inbox(services, address)
        token = token_from(mail["body"], "/verify-email")
        assert (
            client.post("/api/v1/accounts/verify-email", json={"token": token}).status_code == 200
        )
    other = client.post(
        "/api/v1/login", json={"email": "strasse@example.com", "password": PASSWORD}
    )
    assert other.status_code == 401
    assert other.json()["error"]["code"] == "invalid_credentials"
    own = client.post(
        "/api/v1/login",
        json={"email": "Strasse@example.com", "password": "the other owner's passphrase"},
    )
    assert own.status_code == 200, own.text
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {own.json()['session']['token']}"}
    )
    assert me.json()["email"] == "STRASSE@example.com"


def test_sign_up_notices_and_resends_to_one_inbox_are_capped_per_window(
    client: TestClient, services: Services
) -> None:
    # The sign-up that creates the account counts too: its confirmation link is the first.
    for _ in range(6):
        assert register(client, "new@example.com")["status"] == 202
    assert len(inbox(services, "new@example.com")) == 3
    for _ in range(5):
        resend = client.post(
            "/api/v1/accounts/verify-email/resend", json={"email": "nobody@example.com"}
        )
        assert resend.status_code == 202
    assert len(inbox(services, "nobody@example.com")) == 3
