"""Device API tokens: which scanner does this bearer token belong to?

Tokens are stored only as SHA-256 digests (scanners[].token_sha256). Every configured digest is
compared in constant time and the loop never stops early, so timing tells nothing about which
digest (or how much of it) matched.
"""

from __future__ import annotations

import hashlib
import hmac

from tagtrail.config import Scanner


class DeviceTokens:
    def __init__(self, scanners: tuple[Scanner, ...]) -> None:
        self._digests = [(bytes.fromhex(s.token_sha256), s.id) for s in scanners]
        self.devices = frozenset(s.id for s in scanners)

    def device_for(self, authorization: str | None) -> str | None:
        """The device id the `Authorization: Bearer <token>` header authenticates, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for expected, device_id in self._digests:
            if hmac.compare_digest(expected, digest) and found is None:
                found = device_id
        return found
