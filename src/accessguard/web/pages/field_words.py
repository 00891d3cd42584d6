"""A refused form field in the customer's words, shown beside the field.

The API's `fields` speak to developers, in the schema's words ("String should have at most 320
characters") or the domain's ("contains control characters"). A person at a form needs what
to do about it: "Enter your email address", "This is too long: at most 320 characters".
"""

from __future__ import annotations

import re

from accessguard.domain.errors import AccessError, PhoneNumberInvalid, ValidationFailed

# What "Enter …" asks for when a field is left empty.
_WANTED = {
    "email": "your email address",
    "password": "your password",
    "current_password": "your current password",
    "new_password": "a new password",
    "code": "the code",
    "phone": "your mobile number",
    "note": "a note: what you checked, or why you turn the request down",
}
# What the field holds, to begin a sentence about it.
_SUBJECT = {
    "email": "This address",
    "phone": "This number",
    "code": "This code",
    "details": "This text",
    "note": "This note",
}
_EMPTY = re.compile(r"^(?:is required|field required|string should have at least 1 character)$")
_TOO_LONG = re.compile(r"(?:at most|longer than) (\d+) characters?")
_CONTROL = re.compile(r"control character|nul character")


def words(field: str, message: str) -> str:
    """One field's refusal, as a sentence for the customer."""
    said = message.removeprefix("Value error, ").strip().rstrip(".")
    lowered = said.lower()
    if _EMPTY.match(lowered):
        if field == "details":
            return "Tell us what happened."
        return f"Enter {_WANTED.get(field, 'something here')}."
    if (too_long := _TOO_LONG.search(lowered)) is not None:
        return f"This is too long: at most {too_long.group(1)} characters."
    if _CONTROL.search(lowered):
        return (
            "Remove the invisible control characters from it: they can come along when text "
            "is copied and pasted."
        )
    if "not valid unicode" in lowered:
        return "Some characters could not be read: type it again."
    if field == "email" and "whole address" in lowered:
        return "Enter your whole email address, such as name@example.com."
    if lowered.startswith("needed while "):
        return f"Enter {_WANTED.get(field, 'it')}: it is {said}."
    if lowered.startswith("must be "):
        return f"Enter {said.removeprefix('must be ')}."
    if lowered.startswith(("string should", "input should")):
        return "This is not in the form expected here: check it and try again."
    return f"{_SUBJECT.get(field, 'This')} {said}."


def field_errors(error: AccessError | None) -> dict[str, str]:
    """The refused fields of a form and what to do about each, by the form's field names."""
    if not isinstance(error, ValidationFailed | PhoneNumberInvalid):
        return {}
    named: dict[str, str] = {}
    for item in error.facts.get("fields", []):
        field = item["field"].removeprefix("body.")
        named.setdefault(field, words(field, item["message"]))
    return named
