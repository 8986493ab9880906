"""Base schemas shared by every domain; `Text`, the string type of every request input; and the
constrained field types the domains share (`Name`, `Title`, `Description`, `Email`, `Password`,
and for the fields `python -m app.cli new-domain` makes, `Integer`, `Date`, `FixedPoint`,
`Timestamp`),
defined once so that the same kind of field has the same limits everywhere."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    StrictBool,
    WithJsonSchema,
)

# PostgreSQL refuses U+0000 in text: a NUL that reaches it is a 500 (and an error log). Every
# string a request carries is therefore `Text` (body, form, query and header fields alike), so a
# NUL is a 422 at the edge. Constrain it further with Field/Query/Form/Header, whose length
# limits keep their usual errors: `Annotated[Text, Field(max_length=200)]`. The check is a
# pattern because pydantic applies length limits to a pattern-checked string as to any string
# (after a validator function they would change error type). An explicit `pattern=` replaces it,
# so such a pattern must exclude NUL itself; tests/http/test_nul_input.py walks every request
# field and parameter and fails if any accepts a NUL.
NO_NUL_PATTERN = r"^[^\x00]*$"
T = TypeVar("T")
Text = Annotated[str, Field(pattern=NO_NUL_PATTERN)]


def _refuse_nul_secret(value: SecretStr) -> SecretStr:
    if "\x00" in value.get_secret_value():
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


# Passwords: SecretStr takes no pattern, so the same rule as a validator, documented as the pattern.
SecretText = Annotated[
    SecretStr,
    AfterValidator(_refuse_nul_secret),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]

# The lengths match the columns (String(200), String(320), Text), so a valid request always fits.
Name = Annotated[Text, Field(min_length=1, max_length=200)]  # a tenant's, a person's, a resource's
Title = Name  # a name by another word
Description = Annotated[Text, Field(max_length=10_000)]
Email = Annotated[EmailStr, Field(max_length=320)]
Password = Annotated[
    SecretText,
    Field(
        min_length=12,
        max_length=1024,
        description="At least 12 characters (the server may require more).",
    ),
]


class Schema(BaseModel):
    """Responses: built from ORM rows or dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class RequestBody(BaseModel):
    """Request bodies: unknown fields are refused, so nothing can be smuggled in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def reject_null(value: T) -> T:
    if value is None:
        raise ValueError("may be omitted, but not null")
    return value


def _not_nullable(schema: dict[str, Any]) -> None:
    """The field as its type alone: without the null branch and the null default."""
    schema.pop("default", None)
    branches = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


# A PATCH field that may be left out but not sent as null: documented as its type alone (not
# nullable, not required), and a null is refused. (Plain `X | None` would document null.)
Omittable = Annotated[T | None, AfterValidator(reject_null), Field(json_schema_extra=_not_nullable)]

# JSON booleans only: pydantic's lax mode would take 0, 1, "yes" or "off" for a bool.
Boolean = StrictBool


# The types `new-domain` maps its field kinds to (besides `Name`, `Description`, `Boolean`), for
# requests. Each always fits its column: a value PostgreSQL would refuse (an integer past 32 bits,
# a third decimal place) is a 422, not a 500. Each takes JSON of one type only, the one the
# document names: lax mode would take a number for a date, as a Unix time. (Not `strict=True` for
# dates: FastAPI validates the parsed body, where a date is still a string.) And each is stored as
# the client reads it back, so a create's response and a later read agree.
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _json_number(value: object) -> object:
    # JSON Schema counts 2.0 as an integer, so pydantic's lax mode may turn it into 2; a string
    # or a boolean is not a number, though lax mode would take "2" and true.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    return value


Integer = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), BeforeValidator(_json_number)]


def _date_text(value: object) -> object:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError('must be a date string, such as "2030-01-31"')
    return value


def _instant_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('must be a string, such as "2030-01-31T12:00:00Z"')
    return value


Date = Annotated[date, BeforeValidator(_date_text)]  # `date`

# `numeric(12, 2)`, money and the like: a string both ways ("12.50"), since a JSON number is a
# float to most clients, which cannot hold 0.10 exactly. Read back with its two places.
FIXED_POINT_PATTERN = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
_FIXED_POINT = re.compile(FIXED_POINT_PATTERN)


def _fixed_point_text(value: object) -> object:
    if not isinstance(value, str) or not _FIXED_POINT.match(value):
        raise ValueError('must be a string of up to 10 digits and 2 decimals, such as "12.50"')
    return value


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


FixedPoint = Annotated[
    Decimal,
    BeforeValidator(_fixed_point_text),
    AfterValidator(_two_places),
    WithJsonSchema({"type": "string", "pattern": FIXED_POINT_PATTERN, "examples": ["12.50"]}),
]

# `timestamptz`: an instant with its offset, read back in UTC. The first and last days of the
# calendar are refused: their instants may lie outside it once in UTC (0001-01-01T00:00+01:00).
_EDGES = (date.min, date.max)


def _in_utc(value: datetime) -> datetime:
    if value.date() in _EDGES:
        raise ValueError("must lie between 0001-01-02 and 9999-12-30")
    return value.astimezone(UTC)


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_instant_text),
    AfterValidator(_in_utc),
    Field(json_schema_extra={"pattern": "^(?!0001-01-01|9999-12-31)"}),
]
