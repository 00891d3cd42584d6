"""The place shown next to a sign-in comes from an offline lookup of its address."""

from __future__ import annotations

import pytest

from accessguard.web.geo import place_of


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        ("81.2.69.142", "Country GB"),
        ("8.8.8.8", "Country US"),
        ("2001:4860:4860::8888", "Country US"),
        ("127.0.0.1", "Local network"),
        ("10.1.2.3", "Local network"),
        ("testclient", "Unknown"),
    ],
)
def test_place_of_address(ip: str, place: str) -> None:
    assert place_of(ip) == place
