"""ETags from row versions, and the `If-Match` precondition for writes."""

import re
from typing import Annotated

from fastapi import Depends, Header

from app.core.errors import PreconditionFailedError

# Strong tags only: If-Match uses the strong comparison (RFC 9110 13.1.1), so a weak tag
# (W/"1") or another spelling of the number ("01") never matches.
_ENTITY_TAG = re.compile(r'^"([1-9]\d{0,17})"$')


def etag(version: int) -> str:
    return f'"{version}"'


async def get_expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="The ETag of the version you read; a stale one answers 412.",
        ),
    ] = None,
) -> int | None:
    """The version the client last read, or None (no precondition, or `*`). An If-Match that
    is not one of our ETags can never match, so it fails the precondition."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ENTITY_TAG.match(if_match.strip())
    if match is None:
        raise PreconditionFailedError("If-Match does not name a version of this resource.")
    return int(match.group(1))


ExpectedVersionDep = Annotated[int | None, Depends(get_expected_version)]
