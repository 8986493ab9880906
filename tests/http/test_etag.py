"""ETags and `If-Match` (app/http/etag.py): `ExpectedVersionDep` reads the versions a client
will accept, and a write compares them with the stored one (`check_version`,
app/core/concurrency.py). The comparison is strong (RFC 9110, 13.1.1): tags match character for
character and neither may be weak, so `W/"3"` and `"03"` never match `"3"`. A list matches when
any of its tags is current; a header that names no version of ours is 412 at once.

A small app of the test's own: one resource whose stored version is 3, read with its ETag and
changed under `If-Match`, with the real problem handlers."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Response
from httpx import ASGITransport, AsyncClient

from app.core.concurrency import check_version
from app.http.etag import MAX_TAGS, ExpectedVersionDep, etag
from app.http.middleware import RequestContextMiddleware
from app.http.problems import install_problem_handlers
from tests.fixtures.problems import assert_problem

CURRENT = 3
STALE = "urn:problem:dependable:stale-version"
UNUSABLE = "urn:problem:dependable:precondition-failed"


def versioned_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)  # the request id the problems carry

    @app.get("/thing")
    async def read(response: Response) -> None:
        response.headers["ETag"] = etag(CURRENT)

    @app.patch("/thing")
    async def change(expected: ExpectedVersionDep) -> list[int] | None:
        check_version(CURRENT, expected)
        return None if expected is None else sorted(expected)

    return app


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=versioned_app())
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def change(client: AsyncClient, if_match: str | None) -> object:
    """The versions the route was given (None: no precondition); fails unless 200."""
    headers = {} if if_match is None else {"If-Match": if_match}
    response = await client.patch("/thing", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def refused(client: AsyncClient, if_match: str) -> str:
    """The problem type of a 412 for `if_match`."""
    response = await client.patch("/thing", headers={"If-Match": if_match})
    return str(assert_problem(response, 412)["type"])


async def test_the_etag_a_read_gives_is_the_precondition_of_a_write(client: AsyncClient) -> None:
    tag = (await client.get("/thing")).headers["etag"]

    assert tag == '"3"'
    assert await change(client, tag) == [CURRENT]


@pytest.mark.parametrize("if_match", [None, "*", " * "])
async def test_absent_or_star_is_no_precondition(client: AsyncClient, if_match: str | None) -> None:
    assert await change(client, if_match) is None


@pytest.mark.parametrize(
    ("if_match", "versions"),
    [
        ('"1", "3"', [1, 3]),
        ('"3","7"', [3, 7]),
        ('W/"3", "3"', [3]),  # the weak tag is not ours: ignored, the strong one matches
        ('garbage, "3"', [3]),
    ],
)
async def test_a_list_holds_when_any_tag_is_current(
    client: AsyncClient, if_match: str, versions: list[int]
) -> None:
    assert await change(client, if_match) == versions


@pytest.mark.parametrize("if_match", ['"2"', '"1", "2"', '"4"'])
async def test_no_current_tag_is_412_stale_version(client: AsyncClient, if_match: str) -> None:
    assert await refused(client, if_match) == STALE


@pytest.mark.parametrize("if_match", ['W/"3"', '"03"', '"+3"', '" 3"', '"3.0"'])
async def test_equal_only_as_a_number_is_412(client: AsyncClient, if_match: str) -> None:
    """Strong comparison: another spelling of the number, or a weak tag, is no tag of ours."""
    assert await refused(client, if_match) == UNUSABLE


@pytest.mark.parametrize(
    "if_match", ["garbage", "3", '"abc"', '"3', '""', "W/garbage", '"0"', '"1234567890123456789"']
)
async def test_a_header_naming_no_version_of_ours_is_412_at_once(
    client: AsyncClient, if_match: str
) -> None:
    assert await refused(client, if_match) == UNUSABLE


async def test_only_the_first_tags_of_a_long_list_are_read(client: AsyncClient) -> None:
    """A header of many tags costs at most MAX_TAGS of them: the current one past them is not
    seen."""
    tags = ", ".join(['"1"'] * MAX_TAGS + [etag(CURRENT)])

    assert await refused(client, tags) == STALE
