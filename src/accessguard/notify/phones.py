"""Phone numbers as customers type them, to E.164 (Google's libphonenumber metadata).

Lives beside the channels rather than in the domain, which imports no third-party parser; the
domain reaches it through the `PhoneNumbers` port.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType

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
    PhoneNumberType.UNKNOWN,
}
MAX_TYPED = 40


def _refused(message: str) -> PhoneNumberInvalid:
    return PhoneNumberInvalid(fields=[{"field": "body.phone", "message": message}])


class PhoneNumberParser:
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
        if not phonenumbers.is_valid_number(number):
            raise _refused("is not a valid phone number")
        if phonenumbers.number_type(number) in _NO_TEXTS:
            raise _refused("cannot receive text messages; give a mobile number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
