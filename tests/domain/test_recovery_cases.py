"""The rules of recovery cases: free text, references, cancel tokens, the signals recorded at
request time, and one open case per account even under parallel requests, or when a case
opened by a writer that takes no account lock slips past the request's first look."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from accessguard.bootstrap import Services
from accessguard.domain import recovery_requests
from accessguard.domain.errors import ValidationFailed
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_cases import (
    CaseStatus,
    RecoveryCase,
    cancel_token,
    clean_text,
    new_reference,
    text_problem,
)
from accessguard.domain.tokens import Signer, digest
from accessguard.storage.sql.recovery_cases import SqlRecoveryCases
from tests.domain.recovery_support import OWNER, audit_kinds, cases, owner_with_factors
from tests.support import PASSWORD, inbox

NOW = datetime(2036, 3, 2, 9, 30, tzinfo=UTC)


def case(status: CaseStatus, effective_at: datetime | None = None) -> RecoveryCase:
    return RecoveryCase(
        "id",
        "R-AAAA-BBBB",
        "acc",
        status,
        "lost",
        NOW,
        "1.2.3.4",
        "ua",
        None,
        False,
        effective_at=effective_at,
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Lost my phone\r\n\ton Monday 📱", None),
        ("", "is required"),
        (" \n ", "is required"),
        ("x" * 2001, "is longer than 2000 characters"),
        ("a\x00b", "contains control characters"),
        ("a\x1bb", "contains control characters"),
        ("a\x85b", "contains control characters"),
        ("a\u202eb", "contains control characters"),
        ("a\u2067b", "contains control characters"),
        ("a\ud800b", "contains characters that are not valid Unicode"),
    ],
)
def test_free_text_rules(value: str, problem: str | None) -> None:
    assert text_problem(value, limit=2000, required=True) == problem


def test_clean_text_trims_and_names_the_field() -> None:
    assert clean_text("note", "  fine  ", limit=10, required=False) == "fine"
    assert clean_text("note", "", limit=10, required=False) == ""
    with pytest.raises(ValidationFailed) as refused:
        clean_text("note", "x\x07", limit=10, required=False)
    assert refused.value.facts["fields"] == [
        {"field": "note", "message": "contains control characters"}
    ]


def test_references_are_short_and_unambiguous() -> None:
    references = {new_reference() for _ in range(200)}
    assert len(references) == 200
    for reference in references:
        assert len(reference) == 11
        assert not set(reference[2:]) & set("01IO")


def test_cancel_tokens_are_per_case_and_per_key() -> None:
    signer = Signer([b"k" * 32])
    assert cancel_token(signer, "a") == cancel_token(signer, "a")
    assert cancel_token(signer, "a") != cancel_token(signer, "b")
    assert cancel_token(Signer([b"z" * 32]), "a") != cancel_token(signer, "a")
    assert len(cancel_token(signer, "a")) >= 43  # 256 bits


def test_which_cases_the_owner_can_still_cancel() -> None:
    later = NOW + timedelta(hours=1)
    assert case(CaseStatus.OPEN).cancellable(NOW)
    assert case(CaseStatus.APPROVED, effective_at=later).cancellable(NOW)
    assert not case(CaseStatus.APPROVED, effective_at=NOW).cancellable(NOW)
    for status in (CaseStatus.REJECTED, CaseStatus.CANCELLED, CaseStatus.COMPLETED):
        assert not case(status).cancellable(NOW)


def test_the_country_of_the_address_is_recorded(services: Services) -> None:
    owner_with_factors(services)
    client = ClientInfo("81.2.69.160", "Mozilla/5.0 (iPhone)")
    reference = services.recovery.open(OWNER, PASSWORD, "lost", None, client)
    [stored] = cases(services)
    assert stored["reference"] == reference
    assert (stored["country"], stored["ip"], stored["user_agent"]) == (
        "GB",
        "81.2.69.160",
        "Mozilla/5.0 (iPhone)",
    )
    assert "country: GB" in inbox(services, OWNER)[-1]["body"]


def test_parallel_requests_open_one_case(services: Services) -> None:
    owner_with_factors(services)
    workers = 6
    barrier = threading.Barrier(workers)
    references: list[str] = []
    failures: list[BaseException] = []

    def request(n: int) -> None:
        barrier.wait()
        try:
            client = ClientInfo(f"203.0.113.{n}", "ua")
            references.append(services.recovery.open(OWNER, PASSWORD, "lost", None, client))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    [stored] = cases(services)
    # One of them opened it; the others got fresh references that tell nothing.
    assert references.count(stored["reference"]) == 1
    assert len(set(references)) == len(references)
    subjects = [mail["subject"] for mail in inbox(services, OWNER)]
    # The case's own mail, and notices of the others within the inbox's limit (which the
    # request that opened the case counted toward too, unless others counted first).
    limit = services.rules.recipient_email_limit
    assert sum("asked again" not in subject for subject in subjects) == 1
    assert limit - 1 <= sum("asked again" in subject for subject in subjects) <= limit


def open_unseen_at_first_look(monkeypatch: pytest.MonkeyPatch, *, closed_at_once: bool) -> None:
    """The request's first look for an active case misses one that a writer taking no account
    lock opens just then (in the same transaction: on PostgreSQL another one would wait for
    the account row the request holds). With `closed_at_once`, that case is cancelled again
    before the request looks a second time."""
    real = SqlRecoveryCases.active_for
    looks: list[str] = []

    def active_for(self: SqlRecoveryCases, account_id: str) -> RecoveryCase | None:
        looks.append(account_id)
        if len(looks) == 1:
            unseen = RecoveryCase(
                str(uuid.uuid4()), "R-UNSN-CASE", account_id, CaseStatus.OPEN, "lost", NOW,
                "192.0.2.99", "other writer", None, False,
            )  # fmt: skip
            assert self.add(unseen, digest("unseen"))
            return None
        if closed_at_once:
            self.cancel_active(account_id, NOW)
        return real(self, account_id)

    monkeypatch.setattr(SqlRecoveryCases, "active_for", active_for)


def test_a_case_opened_unseen_by_another_writer_makes_the_request_an_asked_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index refuses the second case; the request answers as for any open case, in the
    same transaction: a fresh reference, the already_open audit row, the asked-again mail."""
    owner = owner_with_factors(services)
    open_unseen_at_first_look(monkeypatch, closed_at_once=False)
    client = ClientInfo("203.0.113.5", "ua")
    reference = services.recovery.open(OWNER, PASSWORD, "lost", None, client)
    [stored] = cases(services)
    assert (stored["reference"], stored["status"]) == ("R-UNSN-CASE", "open")
    assert reference != "R-UNSN-CASE"
    assert audit_kinds(services, owner.id) == [("recovery_requested", "already_open")]
    [mail] = inbox(services, OWNER)
    assert "asked again" in mail["subject"]
    assert "R-UNSN-CASE" in mail["body"]


def test_a_request_whose_refusing_case_closed_at_once_opens_its_own_on_the_next_try(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing active is left to explain the refusal: the request is not dropped, it opens
    its case as if it had come a moment later, and the owner gets that case's mail."""
    owner = owner_with_factors(services)
    open_unseen_at_first_look(monkeypatch, closed_at_once=True)
    reference = services.recovery.open(OWNER, PASSWORD, "lost", None, ClientInfo("::1", "ua"))
    stored = {case["reference"]: case["status"] for case in cases(services)}
    assert stored == {"R-UNSN-CASE": "cancelled", reference: "open"}
    assert audit_kinds(services, owner.id) == [("recovery_requested", "success")]
    [mail] = inbox(services, OWNER)
    assert reference in mail["body"]
    assert "asked again" not in mail["subject"]


def test_a_reference_drawn_twice_is_drawn_again_not_answered_with_an_error(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """References have 40 bits: over a million cases two are likely to meet. The second case
    gets a fresh one; its request neither fails nor passes for an asked-again."""
    owner_with_factors(services)
    taken = services.recovery.open(OWNER, PASSWORD, "lost", None, ClientInfo("::1", "ua"))
    other = "grace@example.com"
    grace = owner_with_factors(services, other)
    drawn = iter([taken, "R-DRWN-AGAN"])
    monkeypatch.setattr(recovery_requests, "new_reference", lambda: next(drawn))
    reference = services.recovery.open(other, PASSWORD, "lost", None, ClientInfo("::1", "ua"))
    assert reference == "R-DRWN-AGAN"
    assert {case["reference"]: case["status"] for case in cases(services)} == {
        taken: "open",
        reference: "open",
    }
    assert audit_kinds(services, grace.id) == [("recovery_requested", "success")]
    [mail] = inbox(services, other)
    assert reference in mail["body"]
