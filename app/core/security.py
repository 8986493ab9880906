"""Password hashing (argon2 through pwdlib), run off the event loop."""

from typing import Protocol

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import AuthSettings


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Check a password; return a new hash too when the stored one used old parameters."""
        ...


class Argon2PasswordHasher:
    """Argon2id with parameters from settings. Hashing takes tens of milliseconds of CPU, so it
    runs in a worker thread instead of blocking every other request on the event loop."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_cost_kib,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password)

    async def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        return await anyio.to_thread.run_sync(self._hash.verify_and_update, password, password_hash)
