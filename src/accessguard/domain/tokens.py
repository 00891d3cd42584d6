"""Random secrets handed to clients, and the digests that are all we store of them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def digest(plain: str) -> str:
    """SHA-256 of a token: lookups go by digest, so a database leak yields no usable token."""
    return hashlib.sha256(plain.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """A 256-bit random token and its digest."""
    plain = secrets.token_urlsafe(32)
    return plain, digest(plain)


def new_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


class Signer:
    """HMAC signatures with rotatable keys: the newest key signs, every key verifies."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("Signer needs at least one key")
        self._keys = keys

    def _mac(self, key: bytes, value: str) -> str:
        mac = hmac.new(key, value.encode("utf-8", "replace"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(self._keys[-1], value)}"

    def unsign(self, signed: str) -> str | None:
        value, _, mac = signed.rpartition(".")
        if not value or not mac:
            return None
        # compare_digest against every key: constant time per key, and rotation keeps old
        # device cookies valid until they age out.
        # Bytes: str comparison raises on non-ASCII text, and a cookie can hold any.
        presented = mac.encode("utf-8", "replace")
        valid = [
            hmac.compare_digest(self._mac(key, value).encode(), presented) for key in self._keys
        ]
        return value if any(valid) else None
