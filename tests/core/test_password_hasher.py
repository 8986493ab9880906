"""Argon2PasswordHasher (app/core/security.py): at most AUTH__MAX_CONCURRENT_HASHES hashes run at
once, since each holds the argon2 memory cost; the rest wait. Held deterministically: every hash
that starts blocks until the test lets it go, and the test counts how many started."""

import asyncio
import threading

import pytest

from app.core.config import AuthSettings
from app.core.security import Argon2PasswordHasher


async def test_hashes_beyond_the_limit_wait_their_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = Argon2PasswordHasher(
        AuthSettings(
            max_concurrent_hashes=2,
            argon2_time_cost=1,
            argon2_memory_cost_kib=1024,
            argon2_parallelism=1,
        )
    )
    started = 0
    lock = threading.Lock()
    release = threading.Event()
    loop = asyncio.get_running_loop()
    two_started = asyncio.Event()

    def held(password: str) -> str:
        nonlocal started
        with lock:
            started += 1
            if started == 2:
                loop.call_soon_threadsafe(two_started.set)
        release.wait(timeout=10)
        return f"hash of {password}"

    monkeypatch.setattr(hasher._hash, "hash", held)

    hashes = [asyncio.create_task(hasher.hash(f"password {n}")) for n in range(6)]
    async with asyncio.timeout(5):
        await two_started.wait()
    await asyncio.sleep(0.1)  # time for a third to start, were the limit not there
    assert started == 2

    release.set()
    assert await asyncio.gather(*hashes) == [f"hash of password {n}" for n in range(6)]
    assert started == 6
