"""Credentials: the password policy, password hashing (argon2id through pwdlib, off the event
loop), access tokens (JWT through python-jose) and opaque refresh tokens. Framework-free."""

import hashlib
import secrets
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Protocol, TypeVar

import anyio.to_thread
from jose import jwt
from jose.exceptions import JOSEError
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import AuthSettings
from app.core.errors import InvalidInputError


class WeakPasswordError(InvalidInputError):
    code = "weak-password"
    title = "Password too weak"


class CommonPasswordError(WeakPasswordError):
    code = "common-password"
    title = "Password too common"


COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
# What people add to a common password to get past a length rule: "password1234", "dragon!!!!".
ADDED_AT_THE_END = string.digits + string.punctuation + string.whitespace


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords, lower-cased (common_passwords.txt says where they come
    from). Read once, at the first password set, not at import."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """In the list, ignoring case, as it is or once the digits and symbols at its end are
    removed. Most entries are shorter than the 12-character minimum: padded, they are what a
    length rule gets instead of a better password."""
    lowered = password.lower()
    common = common_passwords()
    return lowered in common or lowered.rstrip(ADDED_AT_THE_END) in common


def require_long_uncommon_password(password: str, min_length: int) -> None:
    """The one password policy, applied wherever a password is set (signup, new users, the
    CLI): at least `min_length` characters, and not a common password. The request schemas'
    floor of 12 shows in OpenAPI; settings may demand more."""
    if len(password) < min_length:
        raise WeakPasswordError(f"The password must be at least {min_length} characters long.")
    if is_common_password(password):
        raise CommonPasswordError(
            "The password is one of the most common passwords, or one with digits or symbols "
            "added at its end: attackers try those first. Choose another."
        )


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify_and_update(
        self, password: str, password_hash: str | None
    ) -> tuple[bool, str | None]:
        """Check a password; also return a new hash when the stored one used old parameters.
        With no stored hash (unknown user) it still does the work, and answers False."""
        ...


T = TypeVar("T")


class Argon2PasswordHasher:
    """Argon2id with parameters from settings. Hashing takes tens of milliseconds of CPU, so it
    runs in a worker thread instead of blocking every other request on the event loop; at most
    `AUTH__MAX_CONCURRENT_HASHES` at once, since each holds the argon2 memory cost (a burst of
    logins must not take the process past its memory limit)."""

    def __init__(self, settings: AuthSettings) -> None:
        self._slots_total = settings.max_concurrent_hashes
        self._slots: anyio.CapacityLimiter | None = None  # made in the event loop, on first use
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_cost_kib,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )
        # Verified against when the user does not exist, so that a login takes as long for an
        # unknown email as for a wrong password.
        self._dummy_hash = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._in_a_slot(self._hash.hash, password)

    async def verify_and_update(
        self, password: str, password_hash: str | None
    ) -> tuple[bool, str | None]:
        if password_hash is None:
            await self._in_a_slot(self._hash.verify, password, self._dummy_hash)
            return False, None
        return await self._in_a_slot(self._hash.verify_and_update, password, password_hash)

    async def _in_a_slot(self, work: Callable[..., T], *arguments: object) -> T:
        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self._slots_total)
        return await anyio.to_thread.run_sync(work, *arguments, limiter=self._slots)


# --- Access tokens (JWT, python-jose) -------------------------------------------------------

VERIFIED_TOKENS_KEPT = 4096
REQUIRED_CLAIMS = ("iss", "aud", "sub", "tid", "role", "jti", "fam", "iat", "nbf", "exp")


class MalformedTokenError(Exception):
    """The token is malformed, forged, expired, or lacks a claim. The reason stays server-side."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    token_id: str
    family_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: AccessClaims


class JWTCodec:
    """Signs and verifies access tokens. Created once per process (see `open_resources`).

    The algorithm is pinned on decode (never taken from the token's header), every claim in
    `REQUIRED_CLAIMS` must be present, and the `kid` header picks the verification key, so keys
    rotate by adding the old one to `previous_keys` before switching `key_id`.

    A token verified once is remembered (a bounded map from the token to its claims), so the
    signature and claims of a client's token are checked once, not on each of its requests
    (about 75 us each with python-jose); a remembered token is still refused once expired. The
    denylist is checked on every request all the same, by the caller.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._algorithm = settings.algorithm
        self._kid = settings.key_id
        self._issuer = settings.issuer
        self._audience = settings.audience
        self._ttl = timedelta(seconds=settings.access_ttl_seconds)
        self._leeway = settings.leeway_seconds
        asymmetric = settings.algorithm.startswith(("RS", "ES"))
        if asymmetric:
            if settings.private_key is None or settings.public_key is None:
                raise ValueError(f"{settings.algorithm} needs a private and a public key")
            self._signing_key = settings.private_key.get_secret_value()
            current_verify = settings.public_key
        else:
            self._signing_key = settings.secret_key.get_secret_value()
            current_verify = self._signing_key
        self._verification_keys = {
            kid: key.get_secret_value() for kid, key in settings.previous_keys.items()
        }
        self._verification_keys[self._kid] = current_verify
        self._verified: dict[str, AccessClaims] = {}

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def accepted_until(self, expires_at: datetime) -> datetime:
        """The instant from which `decode` refuses a token expiring at `expires_at`: python-jose
        accepts it while `exp >= now - leeway` with `now` in whole seconds, so up to one second
        short of `exp + leeway + 1`. A denial must last until then, not until `exp`."""
        return expires_at + timedelta(seconds=self._leeway + 1)

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        role: str,
        family_id: uuid.UUID,
        now: datetime | None = None,
    ) -> IssuedToken:
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        claims = AccessClaims(
            user_id=user_id,
            tenant_id=tenant_id,
            role=role,
            token_id=secrets.token_urlsafe(16),
            family_id=family_id,
            issued_at=issued,
            expires_at=issued + self._ttl,
        )
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "tid": str(tenant_id),
            "role": role,
            "jti": claims.token_id,
            "fam": str(family_id),
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        token = jwt.encode(
            payload, self._signing_key, algorithm=self._algorithm, headers={"kid": self._kid}
        )
        return IssuedToken(token=token, claims=claims)

    def decode(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None:
            # Stricter than python-jose's own check (whole seconds, `exp >= now - leeway`).
            if time.time() < claims.expires_at.timestamp() + self._leeway:
                return claims
            del self._verified[token]
            raise MalformedTokenError("Signature has expired.")
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest remembered
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self._verification_keys.get(str(header.get("kid")))
            if key is None or header.get("alg") != self._algorithm:
                raise MalformedTokenError("unknown key id or algorithm")
            payload = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "leeway": self._leeway,
                    **{f"require_{claim}": True for claim in ("aud", "iss", "sub", "jti")},
                    **{f"require_{claim}": True for claim in ("iat", "nbf", "exp")},
                },
            )
            missing = [claim for claim in REQUIRED_CLAIMS if claim not in payload]
            if missing:
                raise MalformedTokenError(f"missing claims: {missing}")
            return AccessClaims(
                user_id=uuid.UUID(payload["sub"]),
                tenant_id=uuid.UUID(payload["tid"]),
                role=str(payload["role"]),
                token_id=str(payload["jti"]),
                family_id=uuid.UUID(payload["fam"]),
                issued_at=datetime.fromtimestamp(payload["iat"], UTC),
                expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            )
        except (JOSEError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise MalformedTokenError(str(error)) from error


# --- Refresh tokens ------------------------------------------------------------------------


def new_refresh_token() -> str:
    """An opaque, unguessable token (256 bits). Only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # A plain SHA-256 suffices: the input is 256 random bits, not a guessable password.
    return hashlib.sha256(token.encode()).hexdigest()
