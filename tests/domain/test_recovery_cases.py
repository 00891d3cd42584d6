"""The rules of recovery cases: free text, references, cancel tokens, the signals recorded at
request time, and one open case per account even under parallel requests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from accessguard.bootstrap import Services
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
from accessguard.domain.tokens import Signer
from tests.domain.recovery_support import OWNER, cases, owner_with_factors
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
