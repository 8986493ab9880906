"""Base schemas shared by every domain."""

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """Responses: built from ORM rows or dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class RequestBody(BaseModel):
    """Request bodies: unknown fields are refused, so nothing can be smuggled in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def reject_null(value: object) -> object:
    """For PATCH fields that may be left out but not set to null."""
    if value is None:
        raise ValueError("may be omitted, but not null")
    return value
