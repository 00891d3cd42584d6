"""Limits on actions that send email: per client address (and what counts as one), and per
recipient, so neither one client nor many can flood an inbox."""

from __future__ import annotations

import functools
import ipaddress
from datetime import datetime

from accessguard.domain.errors import TooManyRequests
from accessguard.domain.ports import ThrottleStore
from accessguard.domain.rules import Rules
from accessguard.domain.tokens import digest

# An IPv6 customer gets a whole /64 from the provider (RFC 6177) and can pick any address
# in it, so counting single addresses would hand an attacker 2**64 fresh counters.
IPV6_GROUP_PREFIX = 64


# Every sign-in asks twice, before and after its hash; parsing the address was a tenth of the
# sign-in's own Python on the event loop (py-spy, docs/performance.md, session 20). Bounded,
# so a spray from many addresses only churns it.
@functools.lru_cache(maxsize=4096)
def address_group(ip: str) -> str:
    """What per-address limits count: the address itself for IPv4, its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an address (a test client's name): counted as written
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_GROUP_PREFIX), strict=False))
    return str(address)


class AddressThrottle:
    def __init__(self, rules: Rules, store: ThrottleStore) -> None:
        self._rules = rules
        self._store = store

    def hit(self, action: str, ip: str, now: datetime) -> None:
        key = f"addr-req:{action}:{address_group(ip)}"
        if (
            self._store.hit(key, self._rules.address_window_seconds, now)
            > self._rules.address_request_limit
        ):
            _, ttl = self._store.count(key, now)
            raise TooManyRequests(retry_after=ttl)

    def recipient_allows(self, action: str, email_key: str, now: datetime) -> bool:
        """Whether another `action` email may go to this address in this window.

        Counted whether or not the address has an account, and the answer to the client is
        the same either way: the limit shields the inbox without telling anyone anything.
        """
        key = f"rcpt:{action}:{digest(email_key)[:40]}"
        count = self._store.hit(key, self._rules.address_window_seconds, now)
        return count <= self._rules.recipient_email_limit
