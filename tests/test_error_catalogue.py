"""The catalogue is complete: every code has a class, words, a remedy and help, and matches
the contract's table in API.md and what GET /api/v1/errors serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accessguard.domain.catalogue import CATALOGUE
from accessguard.domain.errors import ErrorCode, exception_classes

API_MD = Path(__file__).resolve().parents[2] / "shared" / "API.md"


def contract_codes() -> dict[str, int]:
    if not API_MD.exists():
        pytest.fail(f"the contract is missing at {API_MD}; CI lays shared/ beside the clone")
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", API_MD.read_text(), flags=re.M)
    assert len(rows) >= 20
    return {code: int(status) for code, status in rows}


def test_every_code_has_an_exception_class_and_an_entry() -> None:
    assert set(exception_classes()) == set(ErrorCode)
    assert set(CATALOGUE) == set(ErrorCode)


def test_every_contract_code_is_present_with_the_contract_status() -> None:
    for code, status in contract_codes().items():
        assert code in {c.value for c in ErrorCode}, code
        assert CATALOGUE[ErrorCode(code)].status == status, code


def test_every_entry_says_what_to_do_and_has_a_full_help_page() -> None:
    for entry in CATALOGUE.values():
        assert entry.message.endswith("."), entry.code
        assert entry.remedy, entry.code
        page = entry.help
        for section in (
            page.title,
            page.what_you_see,
            page.why,
            page.what_to_do,
            page.contact_support,
        ):
            assert len(section) > 10, entry.code
        assert "password" in page.contact_support
        assert "code" in page.contact_support
        assert entry.help_url == f"/help/{entry.code.value}"


def test_api_serves_exactly_the_catalogue(client: TestClient) -> None:
    served = client.get("/api/v1/errors").json()
    assert {item["code"] for item in served} == {code.value for code in ErrorCode}
    for item in served:
        entry = CATALOGUE[ErrorCode(item["code"])]
        assert item == {
            "code": entry.code.value,
            "status": entry.status,
            "message": entry.message,
            "help_url": entry.help_url,
        }
