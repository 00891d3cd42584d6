"""X-Forwarded-For is believed only from trusted proxies, and only its trustworthy end."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.web.app import create_app
from accessguard.web.client import client_address

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")]


def test_untrusted_peer_keeps_its_own_address() -> None:
    assert client_address("198.51.100.9", "203.0.113.1", PROXIES) == "198.51.100.9"


def test_no_trusted_proxies_ignores_the_header() -> None:
    assert client_address("127.0.0.1", "203.0.113.1", []) == "127.0.0.1"


def test_trusted_proxy_gives_the_rightmost_untrusted_hop() -> None:
    # The client wrote "1.2.3.4" itself; only what our proxies appended is believed.
    header = "1.2.3.4, 203.0.113.7, 10.0.0.5"
    assert client_address("10.0.0.1", header, PROXIES) == "203.0.113.7"


def test_malformed_header_changes_nothing() -> None:
    assert client_address("10.0.0.1", "203.0.113.7, not-an-ip", PROXIES) == "10.0.0.1"
    assert client_address("10.0.0.1", "", PROXIES) == "10.0.0.1"
    assert client_address("10.0.0.1", "10.0.0.2, 10.0.0.3", PROXIES) == "10.0.0.1"


def test_ipv6_hops_are_understood() -> None:
    assert client_address("10.0.0.1", "2001:db8::1", PROXIES) == "2001:db8::1"


def test_empty_elements_of_the_header_are_ignored() -> None:
    # RFC 9110, 5.6.1: "a, , b" is "a, b"; a proxy's trailing comma must not make every
    # client behind it share the proxy's address, and so its throttle.
    assert client_address("10.0.0.1", "203.0.113.7,,", PROXIES) == "203.0.113.7"
    assert client_address("10.0.0.1", "198.51.100.1, , 203.0.113.7", PROXIES) == "203.0.113.7"
    assert client_address("10.0.0.1", " , ", PROXIES) == "10.0.0.1"


def test_a_hop_with_the_clients_port_is_understood() -> None:
    assert client_address("10.0.0.1", "203.0.113.7:51234", PROXIES) == "203.0.113.7"
    assert client_address("10.0.0.1", "[2001:db8::1]:51234", PROXIES) == "2001:db8::1"
    assert client_address("10.0.0.1", "[2001:db8::1]", PROXIES) == "2001:db8::1"


def test_a_hop_with_a_port_that_is_not_one_changes_nothing() -> None:
    for hop in ("203.0.113.7:", "203.0.113.7:http", "203.0.113.7:70000", "[2001:db8::1]x", "[::1"):
        assert client_address("10.0.0.1", hop, PROXIES) == "10.0.0.1", hop


SPRAY = {"email": "x@example.com", "password": "spray spray spray"}


def behind_proxy(services_factory: Callable[..., Services], limit: int) -> TestClient:
    """A client at 10.0.0.1, a trusted proxy, against a failure limit of `limit` per address."""
    services = services_factory(address_failure_limit=limit, trusted_proxies="10.0.0.0/8")
    app = create_app(services=services, run_outbox_worker=False)
    return TestClient(app, client=("10.0.0.1", 50000))


def test_throttle_follows_the_forwarded_address_behind_a_trusted_proxy(
    services_factory: Callable[..., Services],
) -> None:
    with behind_proxy(services_factory, limit=2) as proxy:
        for _ in range(2):
            proxy.post("/api/v1/login", json=SPRAY, headers={"X-Forwarded-For": "203.0.113.1"})
        blocked = proxy.post(
            "/api/v1/login", json=SPRAY, headers={"X-Forwarded-For": "203.0.113.1"}
        )
        other = proxy.post(
            "/api/v1/login",
            json={**SPRAY, "email": "y@example.com"},
            headers={"X-Forwarded-For": "203.0.113.2"},
        )
    assert blocked.status_code == 429
    assert other.status_code == 401


def test_every_line_of_x_forwarded_for_counts_not_only_the_first(
    services_factory: Callable[..., Services],
) -> None:
    # A proxy that adds its own header line: the client's line comes first and is not
    # believed; the proxy's address for the client is.
    with behind_proxy(services_factory, limit=1) as proxy:
        for chosen in ("198.51.100.1", "198.51.100.2"):
            answer = proxy.post(
                "/api/v1/login",
                json=SPRAY,
                headers=[("X-Forwarded-For", chosen), ("X-Forwarded-For", "203.0.113.9")],
            )
    assert answer.status_code == 429


def test_one_ipv6_64_is_throttled_as_one_address(
    services_factory: Callable[..., Services],
) -> None:
    # Its owner can pick any of 2**64 addresses; a fresh one must not mean a fresh counter.
    with behind_proxy(services_factory, limit=2) as proxy:
        answers = [
            proxy.post("/api/v1/login", json=SPRAY, headers={"X-Forwarded-For": address})
            for address in ("2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1::3")
        ]
        elsewhere = proxy.post(
            "/api/v1/login", json=SPRAY, headers={"X-Forwarded-For": "2001:db8:1:2::1"}
        )
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert elsewhere.status_code == 401
