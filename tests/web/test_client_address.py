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


def test_throttle_follows_the_forwarded_address_behind_a_trusted_proxy(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(address_failure_limit=2, trusted_proxies="10.0.0.0/8")
    app = create_app(services=services, run_outbox_worker=False)
    body = {"email": "x@example.com", "password": "spray spray spray"}
    with TestClient(app, client=("10.0.0.1", 50000)) as proxy:
        for _ in range(2):
            proxy.post("/api/v1/login", json=body, headers={"X-Forwarded-For": "203.0.113.1"})
        blocked = proxy.post("/api/v1/login", json=body, headers={"X-Forwarded-For": "203.0.113.1"})
        other = proxy.post(
            "/api/v1/login",
            json={**body, "email": "y@example.com"},
            headers={"X-Forwarded-For": "203.0.113.2"},
        )
    assert blocked.status_code == 429
    assert other.status_code == 401
