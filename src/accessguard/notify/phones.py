"""Phone numbers as customers type them, to E.164 (Google's libphonenumber metadata).

Lives beside the channels rather than in the domain, which imports no third-party parser; the
domain reaches it through the `PhoneNumbers` port.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import PhoneNumberType, ValidationResult

from accessguard.domain.errors import PhoneNumberInvalid

# Spaces, dashes, dots and brackets are how people group digits; anything else (letters
# included, which libphonenumber would read as a keypad's 1-800-FLOWERS) is refused.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.()\[\]/]")
_TYPED = re.compile(r"\+?[0-9]{4,20}")
# Numbers that cannot take a text, or that would bill us (toll fraud through SMS pumping).
_NO_TEXTS = {
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
}
MAX_TYPED = 40
E164_DIGITS = 15


def _refused(message: str) -> PhoneNumberInvalid:
    return PhoneNumberInvalid(fields=[{"field": "phone", "message": message}])


class PhoneNumberParser:
    def __init__(self, countries: Iterable[str] = ()) -> None:
        # ISO 3166 codes of the countries whose numbers may be set up; empty: any country.
        self._countries = frozenset(countries)

    def normalise(self, typed: str) -> str:
        if len(typed) > MAX_TYPED:
            raise _refused("is too long for a phone number")
        compact = _SEPARATORS.sub("", typed)
        if compact.startswith("00"):  # the international prefix most of the world dials
            compact = "+" + compact[2:]
        if not _TYPED.fullmatch(compact):
            raise _refused("may hold only digits, spaces, dashes, dots and brackets")
        if not compact.startswith("+"):
            raise _refused("needs the country code, starting with +")
        try:
            number = phonenumbers.parse(compact, None)
        except phonenumbers.NumberParseException as error:
            raise _refused("is not a phone number") from error
        if len(compact) - 1 > E164_DIGITS:
            raise _refused("is not a valid phone number: it has more than 15 digits")
        if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
            raise _refused("is not a valid phone number: check the number of digits")
        # A number of the right length that the metadata cannot place (a new range, or one
        # kept for examples such as +1 555…, the contract's own) goes to the gateway, which
        # is the judge of whether it can be reached. What is known not to take texts, or to
        # bill us, is refused here.
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _NO_TEXTS:
            raise _refused("cannot receive text messages; give a mobile number")
        if self._countries and not self._countries & _countries_of(number):
            raise _refused(
                "is in a country this service does not send texts to; set up an "
                "authenticator app instead"
            )
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _countries_of(number: phonenumbers.PhoneNumber) -> set[str]:
    """The country a number is in, or for one the metadata cannot place (an example range),
    every country of its calling code: +1 876 is Jamaica, an unplaced +1 555 any of +1's."""
    region = phonenumbers.region_code_for_number(number)
    if region is not None:
        return {region}
    code = number.country_code
    return set(phonenumbers.region_codes_for_country_code(code)) if code else set()
