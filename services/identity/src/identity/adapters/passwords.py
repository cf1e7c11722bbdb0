"""argon2id password hashing, off the event loop.

Hashing and verifying cost tens of milliseconds of CPU and tens of MiB each (on purpose); they
run in worker threads, at most ``concurrency`` at once, so logins never stall other calls and a
burst of logins cannot exhaust memory. A login for an unknown e-mail verifies against a dummy
hash made with the same parameters, so it costs the same time as a wrong password.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, *, concurrency: int = 2) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._slots:
            ok = await asyncio.to_thread(self._verify, password_hash or self._dummy, password)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
