"""The one place that turns errors into HTTP responses: RFC 9457 `application/problem+json`.

Domain errors (`AppError`), `HTTPException`, request validation errors, the database being
unavailable and unexpected exceptions all leave the service through here, with the same shape and
the request id.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from app.core.errors import AppError, DatabaseUnavailableError

logger = logging.getLogger("app.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:problem:dependable:"
VALIDATION_FAILED = "Request validation failed"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response carries them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    *,
    status: int,
    code: str | None,
    title: str,
    detail: str,
    instance: str,
    request_id: str | None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    body = Problem(
        type=TYPE_PREFIX + code if code else "about:blank",
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id,
        errors=list(errors) if errors is not None else None,
    )
    return ProblemResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=dict(headers or {})
    )


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


_KEPT_HEADERS = "headers_kept_on_errors"


def keep_on_error_responses(request: Request, headers: Mapping[str, str]) -> None:
    """Send `headers` on this request's problem responses too.

    Headers a dependency sets on the injected `Response` reach only the response FastAPI builds
    from the endpoint's return value; an error response is built from the exception alone and
    goes out without them. A dependency whose headers matter on errors as well (the rate limits'
    `RateLimit-*` on a refused login) records them here; the handlers below add them.
    """
    kept: dict[str, str] = getattr(request.state, _KEPT_HEADERS, {})
    kept.update(headers)
    setattr(request.state, _KEPT_HEADERS, kept)


def _headers(request: Request, own: Mapping[str, str] | None) -> dict[str, str]:
    """The kept headers, then the exception's own (which win: a 429's `Retry-After`)."""
    return {**getattr(request.state, _KEPT_HEADERS, {}), **(own or {})}


async def app_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    if not isinstance(exc, AppError):  # registered for AppError only
        raise exc
    return problem(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        request_id=_request_id(request),
        headers=_headers(request, exc.headers),
    )


# FastAPI's answer to a body it could not decode before validation (bytes that are not UTF-8, a
# form it could not parse): a 400 that its own 422 would have been for a JSON syntax error.
BODY_NOT_PARSED = "There was an error parsing the body"


async def http_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code == 400 and exc.detail == BODY_NOT_PARSED and exc.__cause__ is not None:
        # Undecodable bytes are as invalid as broken JSON: the same documented 422.
        return _validation_problem(
            request,
            [FieldError(loc=["body"], msg="The body could not be decoded.", type="body_invalid")],
        )
    title = HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; RFC 9110 wants them all.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(
        status=exc.status_code,
        code=None,
        title=title,
        detail=exc.detail if isinstance(exc.detail, str) else title,
        instance=request.url.path,
        request_id=_request_id(request),
        headers=_headers(request, headers),
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (a 405 means none serves this method).
    FastAPI's public `iter_route_contexts` gives each route its full path, prefixes included."""
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if context.methods and context.path_regex.match(path):
            methods |= context.methods
    return sorted(methods)


async def validation_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    if not isinstance(exc, RequestValidationError):  # registered for RequestValidationError only
        raise exc
    # Never echo the rejected input back: it may be a password or a megabyte of junk.
    errors = [
        FieldError(loc=list(error["loc"]), msg=error["msg"], type=error["type"])
        for error in exc.errors()
    ]
    return _validation_problem(request, errors)


def _validation_problem(request: Request, errors: list[FieldError]) -> ProblemResponse:
    return problem(
        status=422,
        code="validation-error",
        title=VALIDATION_FAILED,
        detail=f"{len(errors)} field(s) failed validation.",
        instance=request.url.path,
        request_id=_request_id(request),
        errors=errors,
        headers=_headers(request, None),
    )


# SQLSTATEs (or their class, by prefix) that say PostgreSQL cannot serve the request now, not
# that the request or the code is wrong: 08 connection exception, 53 insufficient resources
# (53300: too many connections), 57014 query canceled (DATABASE__STATEMENT_TIMEOUT_MS), 57P01-03
# and 57P05 shutdown, crash, starting up, idle session timeout, 55P03 lock not available.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57014", "57P01", "57P02", "57P03", "57P05", "55P03")
DATABASE_RETRY_AFTER_SECONDS = 1


def database_unavailable(error: Exception) -> bool:
    """Whether `error` means the database could not answer in time (503) rather than a bug
    (500): no free pooled connection within DATABASE__POOL_TIMEOUT_SECONDS, a connection the
    server closed (SQLAlchemy invalidated it, so the pool connects afresh for the next request),
    no connection at all, or a SQLSTATE above."""
    if isinstance(error, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return error.connection_invalidated or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


async def database_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """503 with `Retry-After` when the database is unavailable; anything else is a bug, left to
    `RequestContextMiddleware`'s logged 500. The transaction was rolled back, except when the
    connection died during COMMIT: then the write may be stored, which is why writes accept
    `Idempotency-Key` (a retry with the same key never writes twice)."""
    if not database_unavailable(exc):
        raise exc
    logger.warning(
        "Database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        extra={"error": str(exc).splitlines()[0]},
    )
    return problem(
        status=DatabaseUnavailableError.status,
        code=DatabaseUnavailableError.code,
        title=DatabaseUnavailableError.title,
        detail="The database could not answer in time. Retry shortly.",
        instance=request.url.path,
        request_id=_request_id(request),
        headers=_headers(request, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}),
    )


def unexpected_error_response(path: str, request_id: str | None) -> ProblemResponse:
    """A 500 that reveals nothing about the failure; the traceback goes to the log instead."""
    return problem(
        status=500,
        code="internal-error",
        title="Internal Server Error",
        detail="The server failed to handle this request. Quote the request id when reporting it.",
        instance=path,
        request_id=request_id,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    for unavailable in (DBAPIError, PoolTimeoutError, ConnectionError, TimeoutError):
        app.add_exception_handler(unavailable, database_error_handler)


def problem_responses(
    titles_by_status: Mapping[int, Iterable[str]],
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problems a route can answer: per status, the problem
    schema, and the titles of the problem types it stands for as its description. Computed for
    every route by `app.http.routing.ProblemRoute`, from the errors its dependencies declare."""
    return {
        status: {
            "model": Problem,
            "description": _description(status, titles),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status, titles in sorted(titles_by_status.items())
    }


def _description(status: int, titles: Iterable[str]) -> str:
    phrase = HTTPStatus(status).phrase
    named = sorted(set(titles) - {phrase})
    return f"{phrase}: {'; '.join(named)}." if named else phrase
