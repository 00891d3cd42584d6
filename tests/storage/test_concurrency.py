"""Races on the records where they matter: lockout counters and locks, single-use tokens.

Every test releases its threads together (threading.Barrier) against the real use cases, on
SQLite (writes serialise through BEGIN IMMEDIATE) and on PostgreSQL with counters in Redis.
Sign-in races run both ways in: on worker threads (`SignIn.__call__`) and as coroutines
interleaved on one event loop (`SignIn.sign_in_async`, as the API runs them).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.deferred import Asked
from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    InvalidCredentials,
    ResetTokenInvalid,
    SessionExpired,
    TooManyRequests,
)
from accessguard.domain.lockout import email_subject
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_codes import SIGN_IN
from accessguard.domain.sessions import Authenticated
from accessguard.domain.signin import SignedIn
from accessguard.storage.redis.throttle import RedisThrottleStore
from accessguard.storage.sql.tables import audit_events, counters, lockouts, one_time_tokens
from accessguard.storage.sql.throttle import SqlThrottleStore
from tests.domain.recovery_support import owner_with_factors, session_for
from tests.support import PASSWORD, inbox, make_account, token_from

WRONG = "not the right password at all"
NEW = "my new and rather long passphrase"
THRESHOLD = 5  # the default lockout_threshold
LOCK_SECONDS = 900  # the default lockout_seconds: the first lock


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` on `count` threads released together; each one's result or error."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            outcomes[index] = attempt(index)
        except Exception as error:  # noqa: BLE001 - the error is the outcome under test
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return outcomes


def outcome_of(call: Callable[..., Any], *args: Any) -> Any:
    """What `call(*args)` returned, or the refusal it raised."""
    try:
        return call(*args)
    except AccessError as refusal:
        return refusal


def kinds(outcomes: list[Any]) -> Counter[str]:
    return Counter(type(outcome).__name__ for outcome in outcomes)


def client(index: int = 0) -> ClientInfo:
    # A distinct address per thread keeps the per-address failure limit out of the picture.
    return ClientInfo(f"198.51.100.{index % 250 + 1}", "race")


def lock_row(services: Services, email: str) -> dict[str, Any] | None:
    with services.engine.connect() as conn:
        row = (
            conn.execute(sa.select(lockouts).where(lockouts.c.subject == email_subject(email)))
            .mappings()
            .first()
        )
    return dict(row) if row else None


SignInCall = Callable[[str, str, str | None, ClientInfo], Any]


class EventLoopThread:
    """An event loop running on a thread of its own, as a server's does: coroutines handed
    to it from racing threads interleave on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(params=["worker threads", "event loop"])
def way_in(request: pytest.FixtureRequest) -> Iterator[Callable[[Services], SignInCall]]:
    """How a test's sign-ins run: `SignIn.__call__` on each racing thread, or
    `SignIn.sign_in_async` on one event loop that every racing thread hands its call to."""
    if request.param == "worker threads":
        yield lambda services: services.signin
        return
    loop_thread = EventLoopThread()
    used: list[Services] = []

    def on_the_loop(services: Services) -> SignInCall:
        used.append(services)

        def call(email: str, password: str, device: str | None, who: ClientInfo) -> Any:
            return loop_thread.run(services.signin.sign_in_async(email, password, device, who))

        return call

    yield on_the_loop
    for services in used:
        if services.signin_store is not None:
            loop_thread.run(services.signin_store.aclose())
        loop_thread.run(services.session_reads.aclose())
    loop_thread.close()


def sign_in(services: Services, email: str, password: str, index: int = 0) -> SignedIn:
    return services.signin(email, password, None, client(index))


def test_parallel_wrong_passwords_lock_exactly_as_sequential_ones(
    services: Services, way_in: Callable[[Services], SignInCall]
) -> None:
    make_account(services, "ada@example.com")
    make_account(services, "bob@example.com")
    signin = way_in(services)

    parallel = race(50, lambda i: signin("ada@example.com", WRONG, None, client(i)))
    sequential = [outcome_of(sign_in, services, "bob@example.com", WRONG, i) for i in range(50)]

    # Sequentially: five wrong passwords, the fifth of which locks, then 45 meet the lock. In
    # parallel the counter hands out 1..50 atomically, so exactly five attempts see a count
    # up to the threshold (the one at it locks); every other one raced past it or met the lock.
    assert kinds(sequential) == Counter(
        {"InvalidCredentials": THRESHOLD, "AccountLocked": 50 - THRESHOLD}
    )
    assert kinds(parallel) == kinds(sequential), parallel
    locking = [o for o in parallel if isinstance(o, InvalidCredentials) and o.facts]
    assert len(locking) == 1  # exactly one attempt locked, and said so
    ada, bob = lock_row(services, "ada@example.com"), lock_row(services, "bob@example.com")
    assert ada is not None
    assert bob is not None
    # Locked once: not doubled to 30 minutes by the racers past the threshold.
    assert (ada["generation"], ada["level"]) == (bob["generation"], bob["level"]) == (1, 1)
    assert ada["locked_until"] == bob["locked_until"]
    for email in ("ada@example.com", "bob@example.com"):
        with pytest.raises(AccountLocked) as locked:
            sign_in(services, email, PASSWORD)
        assert locked.value.retry_after == LOCK_SECONDS


def test_no_attempt_slips_past_a_lock(
    services: Services, way_in: Callable[[Services], SignInCall]
) -> None:
    make_account(services)
    signin = way_in(services)
    refusals = [outcome_of(sign_in, services, "ada@example.com", WRONG) for _ in range(THRESHOLD)]
    assert isinstance(refusals[-1], InvalidCredentials)
    assert "locked_until" in refusals[-1].facts
    before = lock_row(services, "ada@example.com")
    assert before is not None
    assert before["level"] == 1

    # 20 right and 20 wrong passwords, all started after the lock row committed.
    outcomes = race(
        40, lambda i: signin("ada@example.com", (PASSWORD, WRONG)[i % 2], None, client())
    )

    assert kinds(outcomes) == Counter({"AccountLocked": 40}), outcomes
    assert all(outcome.retry_after == LOCK_SECONDS for outcome in outcomes)
    # Attempts refused by the lock neither count nor lock again.
    assert lock_row(services, "ada@example.com") == before


def test_right_password_racing_failures_never_succeeds_once_the_lock_exists(
    services: Services, way_in: Callable[[Services], SignInCall], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A right password hashed while racing failures lock the account is still refused."""
    make_account(services)
    signin = way_in(services)
    subject = email_subject("ada@example.com")
    now = services.clock.now()
    late: list[bool] = []  # one per right password whose hash ended with the lock in place
    verify, verify_async = services.hasher.verify, services.hasher.verify_async

    def note(matches: bool) -> None:
        with services.uow() as uow:
            if matches and uow.lockouts.get(subject).is_locked(now):
                late.append(True)

    def verify_then_look(password_hash: str, password: str) -> bool:
        matches = verify(password_hash, password)
        note(matches)
        return matches

    async def verify_async_then_look(password_hash: str, password: str) -> bool:
        matches = await verify_async(password_hash, password)
        await asyncio.to_thread(note, matches)
        return matches

    monkeypatch.setattr(services.hasher, "verify", verify_then_look)
    monkeypatch.setattr(services.hasher, "verify_async", verify_async_then_look)

    outcomes = race(  # 10 right, 30 wrong
        40,
        lambda i: outcome_of(
            signin, "ada@example.com", PASSWORD if i % 4 == 0 else WRONG, None, client()
        ),
    )

    # Each attempt hashes once: a right one that met the lock after its hash is refused, so
    # at most the others sign in.
    assert kinds(outcomes)["SignedIn"] <= 10 - len(late), (late, outcomes)
    assert all(
        isinstance(result, SignedIn | AccountLocked | InvalidCredentials) for result in outcomes
    )
    row = lock_row(services, "ada@example.com")
    assert row is None or row["level"] <= 1, "racing failures locked twice"


@pytest.mark.parametrize("counters", ["kept", "lost"])
def test_a_right_password_whose_hash_ends_after_failures_locked_the_email_is_refused(
    services: Services,
    way_in: Callable[[Services], SignInCall],
    monkeypatch: pytest.MonkeyPatch,
    counters: str,
) -> None:
    """The lock is read again after the hash. With the counters lost meanwhile (a Redis
    restart), the lock row is all that tells: it is kept in the database for this."""
    make_account(services)
    signin = way_in(services)
    verify, verify_async = services.hasher.verify, services.hasher.verify_async
    locking = threading.Event()

    def lock_it_elsewhere() -> None:
        for i in range(THRESHOLD):
            outcome_of(sign_in, services, "ada@example.com", WRONG, i + 1)
        if counters == "lost":
            forget_counters(services)

    def verify_while_locked(password_hash: str, password: str) -> bool:
        matches = verify(password_hash, password)
        if matches and not locking.is_set():
            locking.set()
            lock_it_elsewhere()
        return matches

    async def verify_async_while_locked(password_hash: str, password: str) -> bool:
        matches = await verify_async(password_hash, password)
        if matches and not locking.is_set():
            locking.set()
            await asyncio.to_thread(lock_it_elsewhere)
        return matches

    monkeypatch.setattr(services.hasher, "verify", verify_while_locked)
    monkeypatch.setattr(services.hasher, "verify_async", verify_async_while_locked)

    with pytest.raises(AccountLocked):
        signin("ada@example.com", PASSWORD, None, client())
    assert locking.is_set()


def forget_counters(services: Services) -> None:
    """Every failure counter gone, as after a Redis restart (or the counters table emptied)."""
    if isinstance(services.throttle, RedisThrottleStore):
        prefix = services.settings.redis_key_prefix
        for key in services.throttle._client.scan_iter(prefix + "*"):
            services.throttle._client.delete(key)
    else:
        assert isinstance(services.throttle, SqlThrottleStore)
        with services.engine.begin() as conn:
            conn.execute(counters.delete())


SPRAYER = ClientInfo("203.0.113.9", "sprayer")


def test_one_address_spraying_in_parallel_hears_no_more_wrong_passwords_than_its_limit(
    services_factory: Callable[..., Services], way_in: Callable[[Services], SignInCall]
) -> None:
    services = services_factory(address_failure_limit=5)
    signin = way_in(services)
    for i in range(10):
        make_account(services, f"user{i}@example.com")

    def attempt(index: int) -> Any:
        # Ten right passwords, twenty wrong ones, all released at once from one address.
        password = PASSWORD if index < 10 else WRONG
        return outcome_of(signin, f"user{index}@example.com", password, None, SPRAYER)

    outcomes = race(30, attempt)

    wrong = kinds(outcomes[10:])
    # All twenty may pass the check before the hash; only the first five counted are told
    # their password was wrong, as if they had come one by one.
    assert wrong == Counter({"InvalidCredentials": 5, "TooManyRequests": 15}), outcomes
    assert set(kinds(outcomes[:10])) <= {"SignedIn", "TooManyRequests"}, outcomes
    with pytest.raises(TooManyRequests):
        signin("user0@example.com", PASSWORD, None, SPRAYER)


def test_a_right_password_hashed_while_its_address_used_up_its_limit_is_refused(
    services_factory: Callable[..., Services],
    way_in: Callable[[Services], SignInCall],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = services_factory(address_failure_limit=5)
    ada = make_account(services)
    signin = way_in(services)
    verify, verify_async = services.hasher.verify, services.hasher.verify_async
    spraying = threading.Event()

    def spray() -> None:  # the same address's wrong passwords finish first
        for i in range(5):
            with pytest.raises(InvalidCredentials):
                services.signin(f"other{i}@example.com", WRONG, None, SPRAYER)

    def verify_while_the_address_sprays(password_hash: str, password: str) -> bool:
        matches = verify(password_hash, password)
        if matches and not spraying.is_set():
            spraying.set()
            spray()
        return matches

    async def verify_async_while_the_address_sprays(password_hash: str, password: str) -> bool:
        matches = await verify_async(password_hash, password)
        if matches and not spraying.is_set():
            spraying.set()
            await asyncio.to_thread(spray)
        return matches

    with pytest.raises(InvalidCredentials):  # one failure of the owner's own, elsewhere
        services.signin("ada@example.com", WRONG, None, client())
    monkeypatch.setattr(services.hasher, "verify", verify_while_the_address_sprays)
    monkeypatch.setattr(services.hasher, "verify_async", verify_async_while_the_address_sprays)

    with pytest.raises(TooManyRequests) as refused:
        signin("ada@example.com", PASSWORD, None, SPRAYER)

    assert refused.value.retry_after > 0
    assert [event.outcome for event in services.history.sign_ins(ada.id)] == [
        "too_many_requests",
        "invalid_credentials",
    ]
    # Not a wrong password: the owner's counter still holds the one failure, not two.
    owner_counter = f"fail:{email_subject('ada@example.com')}:0"
    assert services.throttle.counts([owner_counter], services.clock.now()) == [1]


def test_parallel_correct_sign_ins_all_succeed(
    services: Services, way_in: Callable[[Services], SignInCall]
) -> None:
    make_account(services)
    signin = way_in(services)

    outcomes = race(10, lambda i: signin("ada@example.com", PASSWORD, None, client(i)))

    assert all(isinstance(outcome, SignedIn) for outcome in outcomes), outcomes
    assert len({outcome.session_token for outcome in outcomes}) == 10
    assert len({outcome.device_token for outcome in outcomes}) == 10
    for outcome in outcomes:
        assert services.sessions.authenticate(outcome.session_token).account.email == (
            "ada@example.com"
        )


def test_reset_token_is_consumed_once_under_parallel_use(services: Services) -> None:
    make_account(services)
    services.passwords.forgot("ada@example.com", client())
    token = token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")

    outcomes = race(16, lambda i: services.passwords.reset(token, f"{NEW} {i}", client(i)))

    assert kinds(outcomes) == Counter({"str": 1, "ResetTokenInvalid": 15}), outcomes
    winner = outcomes.index("reset")
    assert all(isinstance(o, ResetTokenInvalid) for i, o in enumerate(outcomes) if i != winner)
    # The password set is the winner's, and only the winner's.
    assert sign_in(services, "ada@example.com", f"{NEW} {winner}").session_token
    loser = (winner + 1) % 16
    with pytest.raises(InvalidCredentials):
        sign_in(services, "ada@example.com", f"{NEW} {loser}")


def test_parallel_reset_requests_leave_one_usable_link(services: Services) -> None:
    # Two instances' workers may carry out two requests for one account at the same moment.
    make_account(services)
    asked = Asked("ada@example.com", client(), services.clock.now(), {})

    outcomes = race(8, lambda i: services.passwords.send_reset_link(asked))

    assert outcomes == [None] * 8
    tokens = [
        token_from(mail["body"], "/reset-password") for mail in inbox(services, "ada@example.com")
    ]
    assert len(tokens) == 8
    links = [services.passwords.usable_link(t) for t in tokens]
    assert [link.state for link in links if link is not None] == ["reset"]


def test_links_issued_while_a_reset_spends_one_all_go_out(
    services: Services,
) -> None:
    # A reset holds its token's row and then updates the account; an issuer locks the account
    # and then voids the tokens: skipping the spent one is what keeps the two from deadlocking.
    make_account(services)
    services.passwords.forgot("ada@example.com", client())
    token = token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")
    asked = Asked("ada@example.com", client(), services.clock.now(), {})

    def either(i: int) -> None:
        if i % 2:
            services.passwords.send_reset_link(asked)
        else:
            services.passwords.reset(token, f"{NEW} {i}", client(i))

    outcomes = race(8, either)

    assert outcomes[1::2] == [None] * 4  # every link issued
    resets = kinds(outcomes[0::2])  # the old link spent once, or voided first by a newer one
    assert set(resets) <= {"str", "ResetTokenInvalid"}, outcomes  # "reset", or refused
    assert resets["str"] <= 1, outcomes


def test_verification_token_is_consumed_once_under_parallel_use(services: Services) -> None:
    make_account(services, verified=False)
    token = token_from(inbox(services, "ada@example.com")[-1]["body"], "/verify-email")

    outcomes = race(16, lambda i: services.accounts.verify_email(token, client(i)))

    # Every click hears the address is confirmed (the losers find it done), but the link is
    # spent, and the confirmation recorded, once.
    assert kinds(outcomes) == Counter({"NoneType": 16}), outcomes
    with services.engine.connect() as conn:
        a = audit_events.c
        confirmed = conn.execute(
            sa.select(sa.func.count()).where(a.kind == "email_verified")
        ).scalar_one()
        spent = conn.execute(
            sa.select(sa.func.count()).where(one_time_tokens.c.used_at.is_not(None))
        ).scalar_one()
    assert (confirmed, spent) == (1, 1)
    assert sign_in(services, "ada@example.com", PASSWORD).session_token


def test_parallel_failures_count_exactly(services: Services) -> None:
    # SQLite: the SQL store. PostgreSQL: the configured Redis store and the SQL store on it.
    stores: list[SqlThrottleStore | RedisThrottleStore] = [SqlThrottleStore(services.engine)]
    if isinstance(services.throttle, RedisThrottleStore):
        stores.append(services.throttle)
    now = services.clock.now()

    for store in stores:
        key = f"fail:race:{type(store).__name__}"
        counts = race(50, lambda _, store=store, key=key: store.hit(key, 600, now))

        assert sorted(counts) == list(range(1, 51)), (type(store).__name__, counts)
        count, ttl = store.count(key, now)
        assert count == 50
        assert 0 < ttl <= 600


def test_of_parallel_password_changes_exactly_one_wins(services: Services) -> None:
    make_account(services)
    sessions = [
        services.sessions.authenticate(
            sign_in(services, "ada@example.com", PASSWORD, i).session_token
        )
        for i in range(6)
    ]

    def change(i: int) -> Any:
        return outcome_of(services.passwords.change, sessions[i], PASSWORD, f"{NEW} {i}", client(i))

    outcomes = race(6, change)

    winners = [i for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1, outcomes
    # Each loser is refused: its session ended, or (if it looked first) its password is gone.
    assert set(kinds([o for o in outcomes if o is not None])) <= {
        "SessionExpired",
        "InvalidCredentials",
    }
    assert sign_in(services, "ada@example.com", f"{NEW} {winners[0]}").session_token
    with pytest.raises(InvalidCredentials):
        sign_in(services, "ada@example.com", f"{NEW} {(winners[0] + 1) % 6}")


def test_a_change_from_a_session_a_reset_ended_does_not_undo_the_reset(
    services: Services,
) -> None:
    """The attacker's change was checked before the owner's reset and writes after it: what
    an in-flight request holds is the session and account as they were when it began."""
    make_account(services)
    attacker = services.sessions.authenticate(
        sign_in(services, "ada@example.com", PASSWORD).session_token
    )
    services.passwords.forgot("ada@example.com", client())
    token = token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")
    services.passwords.reset(token, "the owner's new passphrase", client(1))

    with pytest.raises(SessionExpired):
        services.passwords.change(attacker, PASSWORD, "the attacker's passphrase", client(2))

    assert sign_in(services, "ada@example.com", "the owner's new passphrase").session_token


def test_authenticator_set_ups_started_at_once_all_get_a_seed(services: Services) -> None:
    make_account(services)
    auth = services.sessions.authenticate(
        sign_in(services, "ada@example.com", PASSWORD).session_token
    )

    outcomes = race(8, lambda i: outcome_of(services.totp.start_enrolment, auth, client(i)))

    assert kinds(outcomes) == Counter({"Enrolment": 8}), outcomes
    assert not services.totp.enabled(auth.account.id)


def _owner_session(services: Services) -> Authenticated:
    """Ada with an authenticator app, a phone and recovery codes, signed in."""
    account = owner_with_factors(services)
    token = session_for(services, account)["Authorization"].removeprefix("Bearer ")
    return services.sessions.authenticate(token)


def _working_sets(services: Services, account_id: str, sets: list[list[str]]) -> int:
    """How many of the handed-out sets still work, trying one code of each."""
    working = 0
    for codes in sets:
        try:
            services.recovery_codes.use(account_id, codes[0], used_for=SIGN_IN)
            working += 1
        except AccessError:
            pass
    return working


def test_parallel_regenerations_leave_exactly_one_whole_set(services: Services) -> None:
    # Each replaced the rows it saw: on PostgreSQL two at once left both sets, under one
    # salt that only one of them was hashed with.
    auth = _owner_session(services)

    outcomes = race(4, lambda i: services.new_recovery_codes.make(auth, PASSWORD, client(i)))

    assert kinds(outcomes) == Counter({"list": 4}), outcomes
    with services.uow(read_only=True) as uow:
        assert uow.recovery_codes.count_unused(auth.account.id) == 10
    assert _working_sets(services, auth.account.id, outcomes) == 1


def test_of_regenerations_sent_from_one_form_exactly_one_makes_a_set(services: Services) -> None:
    # The page's form names the set it showed: sent twice, the second sending must not void
    # the codes the first one showed.
    auth = _owner_session(services)
    shown = services.recovery_codes.current_set(auth.account.id)

    def regenerate(i: int) -> Any:
        return outcome_of(
            partial(services.new_recovery_codes.make, replacing=shown),
            auth,
            PASSWORD,
            client(i),
        )

    outcomes = race(4, regenerate)

    assert kinds(outcomes) == Counter({"list": 1, "RecoveryCodesReplaced": 3}), outcomes
    made = [o for o in outcomes if isinstance(o, list)]
    assert _working_sets(services, auth.account.id, made) == 1


def test_parallel_sign_outs_and_revokes_of_one_session_end_and_record_it_once(
    services: Services,
) -> None:
    make_account(services)
    leaving = sign_in(services, "ada@example.com", PASSWORD)
    auth = services.sessions.authenticate(leaving.session_token)
    other = sign_in(services, "ada@example.com", PASSWORD, 1)
    target = services.sessions.authenticate(other.session_token).session.id

    signed_out = race(12, lambda i: services.sessions.logout(auth, client(i)))
    revoked = race(12, lambda i: outcome_of(services.sessions.revoke, auth, target, client(i)))

    assert kinds(signed_out) == Counter({"NoneType": 12}), signed_out  # a retry is no error
    assert kinds(revoked) == Counter({"NoneType": 1, "NotFound": 11}), revoked
    with services.engine.connect() as conn:
        recorded = Counter(conn.execute(sa.select(audit_events.c.kind)).scalars())
    assert (recorded["logout"], recorded["session_revoked"]) == (1, 1)
