"""What customers type as a phone number, and the E.164 form kept (or the refusal given)."""

from __future__ import annotations

import pytest

from accessguard.domain.errors import PhoneNumberInvalid
from accessguard.notify.phones import PhoneNumberParser

PARSE = PhoneNumberParser().normalise


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+4915123456789", "+4915123456789"),
        ("+49 151 23456789", "+4915123456789"),
        ("+49 (151) 2345-6789", "+4915123456789"),
        ("+49.151.2345.6789", "+4915123456789"),
        ("0049 151 23456789", "+4915123456789"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+1 (202) 555-0143", "+12025550143"),
        ("  +1 202 555 0143\t", "+12025550143"),
        ("+1\u00a0202\u2011555\u20110143", "+12025550143"),  # no-break space, hyphens
        # Ranges kept for examples: the contract's own, and the one our form's hint shows.
        # The gateway, not the parser, says whether such a number can be reached.
        ("+15551234567", "+15551234567"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_separators_people_type_are_tolerated(typed: str, e164: str) -> None:
    assert PARSE(typed) == e164


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "digits"),
        ("+", "digits"),
        ("0151 23456789", "country code"),  # no country: we will not guess one
        ("+1-800-FLOWERS", "digits"),  # letters would be read off a keypad
        ("+49 151 2345678x", "digits"),
        ("+1 555 0000", "digits"),  # a local number, without its area code
        ("+1 202 555 01434", "digits"),
        ("+49 151 2345 6789 1234", "15 digits"),
        ("+44 20 7946 0018", "text messages"),  # a landline
        ("+1 800 356 9377", "text messages"),  # toll-free
        ("+1 900 555 0123", "text messages"),  # premium rate: toll fraud
        ("+49 151 2345 6789 1234 5678 9012", "digits"),
        ("+" + "1" * 60, "too long"),
        ("+49 151 23456789; DROP TABLE", "digits"),
        ("+٤٩١٥١٢٣٤٥٦٧٨٩", "digits"),  # Arabic-Indic digits
    ],
)
def test_anything_but_a_textable_number_is_refused_with_its_field(typed: str, why: str) -> None:
    with pytest.raises(PhoneNumberInvalid) as refused:
        PARSE(typed)
    [field] = refused.value.facts["fields"]
    assert field["field"] == "phone"
    assert why in field["message"]


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+49 151 23456789", "+4915123456789"),
        ("+1 202 555 0143", "+12025550143"),
        ("+1 555 123 4567", "+15551234567"),  # unplaced: any country of +1, the US among them
    ],
)
def test_numbers_of_the_countries_served_are_kept(typed: str, e164: str) -> None:
    assert PhoneNumberParser(["DE", "US"]).normalise(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "+33 6 12 34 56 78",
        "+1 876 234 5678",  # Jamaica shares +1 with the US: the number's own country counts
        "+44 7700 900123",  # unplaced, and no country of +44 is served
        "+41 79 123 45 67",
    ],
)
def test_numbers_of_other_countries_are_refused_with_what_to_do(typed: str) -> None:
    with pytest.raises(PhoneNumberInvalid) as refused:
        PhoneNumberParser(["DE", "US"]).normalise(typed)
    [field] = refused.value.facts["fields"]
    assert field["field"] == "phone"
    assert "does not send texts to" in field["message"]
    assert "authenticator app" in field["message"]
