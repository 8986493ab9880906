"""ETags from row versions, and the `If-Match` precondition for writes."""

import re
from typing import Annotated

from fastapi import Depends, Header

from app.core.errors import PreconditionFailedError, raises
from app.http.schemas import Text

# Strong tags only: If-Match uses the strong comparison (RFC 9110 13.1.1), so a weak tag
# (W/"1") or another spelling of the number ("01") never matches.
_ENTITY_TAG = re.compile(r'^"([1-9]\d{0,17})"$')
MAX_TAGS = 16


def etag(version: int) -> str:
    return f'"{version}"'


@raises(PreconditionFailedError)
async def get_expected_version(
    if_match: Annotated[
        Text | None,
        Header(
            alias="If-Match",
            description="The ETag of the version you read; a stale one answers 412.",
        ),
    ] = None,
) -> frozenset[int] | None:
    """The versions the client will accept (If-Match may list several), or None when there is
    no precondition (absent, or `*`). Tags that are not ours are ignored; if none is left, the
    precondition can never hold, so it fails at once."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = [tag.strip() for tag in if_match.split(",")][:MAX_TAGS]
    versions = frozenset(int(m.group(1)) for tag in tags if (m := _ENTITY_TAG.match(tag)))
    if not versions:
        raise PreconditionFailedError("If-Match does not name a version of this resource.")
    return versions


ExpectedVersionDep = Annotated[frozenset[int] | None, Depends(get_expected_version)]
