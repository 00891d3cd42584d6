"""Per-address limits on actions that send email, so one address cannot flood inboxes."""

from __future__ import annotations

from datetime import datetime

from accessguard.domain.errors import TooManyRequests
from accessguard.domain.ports import ThrottleStore
from accessguard.domain.rules import Rules


class AddressThrottle:
    def __init__(self, rules: Rules, store: ThrottleStore) -> None:
        self._rules = rules
        self._store = store

    def hit(self, action: str, ip: str, now: datetime) -> None:
        key = f"addr-req:{action}:{ip}"
        if (
            self._store.hit(key, self._rules.address_window_seconds, now)
            > self._rules.address_request_limit
        ):
            _, ttl = self._store.count(key, now)
            raise TooManyRequests(retry_after=ttl)
