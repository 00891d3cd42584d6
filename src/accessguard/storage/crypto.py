"""Encryption at rest for secrets the service must read back (TOTP seeds): AES-256-GCM.

Sealed text is `v1.` + base64url(nonce ‖ ciphertext ‖ tag), with a fresh 12-byte nonce each
time. Keys are derived from the settings' secret keys (oldest first, the newest seals), so
rotating a key leaves stored seeds readable as long as the old key stays listed.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1."
_INFO = b"accessguard secret-box v1"  # a separate key from the signing use of the same secret
_NONCE = 12


def _derive(key: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(key))


class AesGcmBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("AesGcmBox needs at least one key")
        self._ciphers = [_derive(key) for key in reversed(keys)]  # newest first

    def seal(self, plain: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._ciphers[0].encrypt(nonce, plain.encode(), _VERSION.encode())
        return _VERSION + base64.urlsafe_b64encode(sealed).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(_VERSION):
            raise ValueError("unknown sealed-secret version")
        raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :])
        nonce, body = raw[:_NONCE], raw[_NONCE:]
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(nonce, body, _VERSION.encode()).decode()
            except InvalidTag:
                continue
        raise ValueError("no configured key opens this secret")
