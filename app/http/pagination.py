"""The pagination dependency and the generic `Page[T]` response: `?limit=&cursor=` in,
`{items, next_cursor}` out. See `app/core/pagination.py` for the keyset mechanics."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, TypeAdapter

from app.core.errors import raises
from app.core.pagination import CursorCodec, InvalidCursorError, PageRequest, Position, split_page
from app.http.deps import ResourcesDep
from app.http.schemas import Text

# The shape of a cursor, two base64url parts (position, signature), so the document says which
# strings can be one; only the signature says which are ours.
CURSOR_PATTERN = r"^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?$"  # empty: the first page

ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Pagination:
    request: PageRequest
    codec: CursorCodec

    def page(self, rows: Sequence[Any], schema: type[ItemT]) -> Page[ItemT]:
        """Rows fetched with `keyset` (limit + 1 of them) as a page with the next cursor. The
        rows are validated into `schema` in one pass (a list adapter, from attributes), and the
        page is assembled from them without validating them a second time."""
        items, last = split_page(list(rows), self.request)
        next_cursor = self.codec.encode(Position(last.created_at, last.id)) if last else None
        validated = _list_of(schema).validate_python(items, from_attributes=True)
        # mypy cannot subscript a generic with a runtime type variable; pydantic can.
        return Page[schema].model_construct(  # type: ignore[valid-type]  # a runtime type
            items=validated, next_cursor=next_cursor
        )


@functools.cache
def _list_of(schema: type[ItemT]) -> TypeAdapter[list[ItemT]]:
    return TypeAdapter(list[schema])  # type: ignore[valid-type]  # a runtime type, as above


@raises(InvalidCursorError)
async def get_pagination(
    resources: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page (1-100).")] = 20,
    cursor: Annotated[
        Text | None,
        Query(
            max_length=512,
            json_schema_extra={"pattern": CURSOR_PATTERN},  # documented; the codec decides
            description="`next_cursor` of the previous page (opaque, signed by the server).",
        ),
    ] = None,
) -> Pagination:
    """`limit` outside 1-100 or a forged/tampered `cursor` is a 422 (never clamped)."""
    codec = resources.cursor_codec
    after = codec.decode(cursor) if cursor else None
    return Pagination(PageRequest(limit=limit, after=after), codec)


PaginationDep = Annotated[Pagination, Depends(get_pagination)]
