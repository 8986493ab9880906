"""Keyset pagination: lists ordered by (created_at, id), resumed from an opaque cursor.

A cursor is the last row's sort key, signed with an HMAC so a client can neither forge nor
tamper with it (a tampered cursor is a 422, never a 500 or a scan from an arbitrary point).
Each page is one indexed range scan, so page 5,000 costs what page 1 costs.
"""

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_

from app.core.errors import InvalidInputError

RowT = TypeVar("RowT")


class InvalidCursorError(InvalidInputError):
    code = "invalid-cursor"
    title = "Invalid cursor"


@dataclass(frozen=True, slots=True)
class Position:
    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: Position | None = None


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        # API__CURSOR_SECRET, with a purpose label: a cursor is never a valid token, and cursors
        # stay unforgeable whichever algorithm signs the tokens.
        self._key = hmac.new(key, b"dependable/cursor/v1", hashlib.sha256).digest()

    def encode(self, position: Position) -> str:
        payload = json.dumps(
            [position.created_at.isoformat(), str(position.id)], separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cursor: str) -> Position:
        try:
            encoded, signature = cursor.split(".")
            payload = _unb64(encoded)
            if not hmac.compare_digest(_unb64(signature), self._sign(payload)):
                raise InvalidCursorError("The cursor was not issued by this server.")
            return _position(json.loads(payload))
        except InvalidCursorError:
            raise
        except (ValueError, TypeError, OverflowError, binascii.Error) as error:
            raise InvalidCursorError("The cursor is malformed.") from error

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]


def _position(decoded: object) -> Position:
    """The position a signed payload names, if it can be one. A key that leaked (or a bug in a
    former encoder) must still not reach PostgreSQL with values it refuses: those are a 500."""
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise ValueError("not a [created_at, id] pair")
    created_at, id_ = decoded
    if not isinstance(created_at, str) or not isinstance(id_, str):
        raise TypeError("created_at and id must be strings")
    moment = datetime.fromisoformat(created_at)
    if moment.utcoffset() is None:
        raise ValueError("created_at has no time zone")
    # In UTC, as PostgreSQL stores it: raises OverflowError past year 1 or 9999.
    return Position(moment.astimezone(UTC), uuid.UUID(id_))


def keyset(statement: Select[Any], model: Any, page: PageRequest) -> Select[Any]:
    """`statement` restricted to the rows after the cursor, in key order, one row past the
    limit (that extra row only tells whether another page exists)."""
    if page.after is not None:
        statement = statement.where(
            tuple_(model.created_at, model.id) > (page.after.created_at, page.after.id)
        )
    return statement.order_by(model.created_at, model.id).limit(page.limit + 1)


def split_page(rows: list[RowT], page: PageRequest) -> tuple[list[RowT], RowT | None]:
    """The page's rows, and the last of them when another page follows (its cursor's row)."""
    items = rows[: page.limit]
    return items, (items[-1] if len(rows) > page.limit else None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
