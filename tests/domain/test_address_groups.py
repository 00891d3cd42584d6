"""Per-address limits count an IPv4 address alone and an IPv6 address by its /64."""

from __future__ import annotations

from accessguard.domain.throttling import address_group


def test_ipv4_is_counted_alone() -> None:
    assert address_group("203.0.113.7") == "203.0.113.7"


def test_addresses_in_one_ipv6_64_share_a_counter() -> None:
    one = address_group("2001:db8:1:1::1")
    assert one == address_group("2001:db8:1:1:ffff:ffff:ffff:ffff") == "2001:db8:1:1::/64"
    assert address_group("2001:db8:1:2::1") != one


def test_ipv4_mapped_ipv6_is_the_ipv4_address() -> None:
    assert address_group("::ffff:203.0.113.7") == "203.0.113.7"


def test_what_is_not_an_address_is_counted_as_written() -> None:
    assert address_group("testclient") == "testclient"
