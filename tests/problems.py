"""Assertions shared by API tests."""

from typing import Any

from httpx import Response


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """`response` is an RFC 9457 problem with this status, carrying the request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance", "request_id"} <= body.keys()
    assert body["request_id"] == response.headers["x-request-id"]
    return body
