"""Recovery codes: readable 50-bit codes, Argon2id digests under one salt per set, single use
(also in parallel), lenient typing, regeneration under the lockout, and the sign-in factor."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from argon2.low_level import Type, hash_secret_raw

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidMfaCode,
    RecoveryCodeUsed,
    SecondFactorRequired,
)
from accessguard.domain.model import Account
from accessguard.domain.recovery_codes import ALPHABET, CODE_LENGTH, normalise
from accessguard.storage.sql.tables import audit_events, outbox, recovery_codes
from tests.conftest import FAST_HASH
from tests.domain.test_mfa_totp import CLIENT, auth_for, code_at
from tests.storage.test_concurrency import race
from tests.support import PASSWORD, SettableClock, inbox, make_account

SHOWN = re.compile(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}")


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


@pytest.fixture
def codes(services: Services, account: Account, clock: SettableClock) -> list[str]:
    """The set issued with an authenticator app."""
    auth = auth_for(account, clock.now())
    secret = services.totp.start_enrolment(auth, CLIENT).secret
    return services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)


def use(services: Services, account: Account, code: str) -> None:
    services.recovery_code_factor.verify_sign_in(account.id, code, "challenge-digest")


def stored_rows(services: Services) -> list[dict[str, object]]:
    with services.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(recovery_codes)).mappings()]


def test_a_set_is_ten_distinct_readable_codes_of_fifty_bits(codes: list[str]) -> None:
    assert len(set(codes)) == 10
    assert all(SHOWN.fullmatch(code) for code in codes), codes
    assert len(ALPHABET) == len(set(ALPHABET)) == 32  # 5 bits a character
    assert CODE_LENGTH * 5 >= 50


def test_codes_are_stored_as_argon2id_digests_under_one_salt_per_set(
    services: Services, codes: list[str]
) -> None:
    rows = stored_rows(services)
    assert len(rows) == 10
    assert not any(code.replace("-", "") in repr(rows) for code in codes)
    salts = {str(row["salt"]) for row in rows}
    assert len(salts) == 1
    salt = salts.pop()
    assert len(bytes.fromhex(salt)) == 16
    expected = {
        hash_secret_raw(
            code.replace("-", "").encode(),
            bytes.fromhex(salt),
            time_cost=FAST_HASH["argon2_time_cost"],
            memory_cost=FAST_HASH["argon2_memory_kib"],
            parallelism=1,
            hash_len=32,
            type=Type.ID,
        ).hex()
        for code in codes
    }
    assert {row["code_digest"] for row in rows} == expected


def test_typing_is_lenient_about_case_spaces_dashes_and_misread_letters() -> None:
    assert normalise(" AB2CD-EF3GH ") == "ab2cdef3gh"
    assert normalise("ab2cd ef3gh") == "ab2cdef3gh"
    assert normalise("ABCDE\u2009-\u2009FGHJK") == "abcdefghjk"  # thin spaces from a PDF
    assert normalise("oOiIl-LlIoO") == "0011111100"  # Crockford: o reads 0, i and l read 1
    assert normalise("ab2cdef3g") is None  # too short
    assert normalise("ab2cdef3guu") is None  # u is not in the alphabet
    assert normalise("") is None


def test_a_code_works_once_however_it_is_typed(
    services: Services, account: Account, codes: list[str]
) -> None:
    use(services, account, f"  {codes[0].upper().replace('-', ' ')} ")
    assert services.recovery_codes.left(account.id) == 9
    with pytest.raises(RecoveryCodeUsed):
        use(services, account, codes[0])
    use(services, account, codes[1])
    assert services.recovery_codes.left(account.id) == 8


def test_a_wrong_or_malformed_code_is_an_invalid_code(
    services: Services, account: Account, codes: list[str]
) -> None:
    for wrong in ("0000000000", "not a code", codes[0][:-1]):
        with pytest.raises(InvalidMfaCode):
            use(services, account, wrong)
    assert services.recovery_codes.left(account.id) == 10


def test_parallel_uses_of_one_code_let_exactly_one_through(
    services: Services, account: Account, codes: list[str]
) -> None:
    outcomes = race(8, lambda _: use(services, account, codes[0]))
    assert outcomes.count(None) == 1, outcomes
    assert all(isinstance(o, RecoveryCodeUsed) for o in outcomes if o is not None), outcomes
    assert services.recovery_codes.left(account.id) == 9


def test_using_a_code_tells_the_owner_how_many_are_left(
    services: Services, account: Account, codes: list[str]
) -> None:
    use(services, account, codes[0])
    body = inbox(services, account.email)[-1]["body"]
    assert "A recovery code was used" in body
    assert "9 recovery codes are left" in body


def test_the_email_says_what_a_code_was_used_for(
    services: Services, account: Account, codes: list[str], clock: SettableClock
) -> None:
    # A code spent on removing the app was reported as a sign-in.
    use(services, account, codes[0])
    services.totp.remove(auth_for(account, clock.now()), PASSWORD, codes[1], CLIENT)

    mails = [m for m in inbox(services, account.email) if "recovery code was used" in m["body"]]
    assert [m["subject"] for m in mails] == ["A recovery code was used on your account"] * 2
    assert "used to sign in to your account" in mails[0]["body"]
    assert "used to remove the authenticator app from your account" in mails[1]["body"]
    assert "used to sign in" not in mails[1]["body"]
    # A blank line between the count and the next paragraph, as between every paragraph.
    assert "9 recovery codes are left.\n\nIf this was you" in mails[0]["body"]


def test_regenerating_voids_the_old_set_emails_the_owner_and_is_audited(
    services: Services, account: Account, codes: list[str], clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    use(services, account, codes[0])
    fresh = services.new_recovery_codes.make(auth, PASSWORD, CLIENT)
    assert len(set(fresh)) == 10
    assert not set(fresh) & set(codes)
    assert services.recovery_codes.left(account.id) == 10
    for old in codes[:2]:  # used or not, the old set is gone
        with pytest.raises(InvalidMfaCode):
            use(services, account, old)
    use(services, account, fresh[0])
    subjects = [mail["subject"] for mail in inbox(services, account.email)]
    assert "New recovery codes were created for your account" in subjects
    with services.engine.connect() as conn:
        kinds = set(conn.execute(sa.select(audit_events.c.kind)).scalars())
    assert {"recovery_codes_regenerated", "recovery_code_used"} <= kinds


def test_regenerating_needs_the_password_under_the_lockout(
    services: Services, account: Account, codes: list[str], clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    threshold = services.rules.lockout_threshold
    for _ in range(threshold - 1):
        with pytest.raises(InvalidCredentials):
            services.new_recovery_codes.make(auth, "not my password at all", CLIENT)
    with pytest.raises(AccountLocked):
        services.new_recovery_codes.make(auth, "not my password at all", CLIENT)
    with pytest.raises(AccountLocked):  # not even the right password while locked
        services.new_recovery_codes.make(auth, PASSWORD, CLIENT)
    use(services, account, codes[0])  # the old set still stands


def test_regenerating_without_a_second_factor_is_refused(
    services: Services, account: Account, clock: SettableClock
) -> None:
    with pytest.raises(SecondFactorRequired):
        services.new_recovery_codes.make(auth_for(account, clock.now()), PASSWORD, CLIENT)
    assert stored_rows(services) == []
    with services.engine.connect() as conn:
        templates = list(conn.execute(sa.select(outbox.c.template)).scalars())
    assert "recovery_codes_regenerated" not in templates


def test_the_sign_in_factor_needs_unused_codes_and_a_second_factor(
    services: Services, account: Account, clock: SettableClock
) -> None:
    factor = services.recovery_code_factor
    assert factor.method == "recovery_code"
    with services.uow(read_only=True) as uow:
        assert not factor.enabled_in(uow.accounts.second_factors(account.id))
    auth = auth_for(account, clock.now())
    secret = services.totp.start_enrolment(auth, CLIENT).secret
    clock.advance(seconds=-60)
    codes = services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    clock.advance(seconds=60)
    with services.uow(read_only=True) as uow:
        assert factor.enabled_in(uow.accounts.second_factors(account.id))
    for code in codes:
        use(services, account, code)
    with services.uow(read_only=True) as uow:
        assert not factor.enabled_in(uow.accounts.second_factors(account.id))  # all spent


def test_codes_without_a_second_factor_do_not_enable_the_factor(
    services: Services, account: Account, codes: list[str], clock: SettableClock
) -> None:
    # Codes left behind by another path (say, a factor removed by support) are no factor.
    with services.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM totp_credentials"))
    with services.uow(read_only=True) as uow:
        assert not services.recovery_code_factor.enabled_in(uow.accounts.second_factors(account.id))
