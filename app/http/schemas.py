"""Base schemas shared by every domain; `Text`, the string type of every request input; and the
constrained field types the domains share (`Name`, `Title`, `Description`, `Email`, `Password`),
defined once so that the same kind of field has the same limits everywhere."""

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, SecretStr, StrictBool

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
Name = Annotated[Text, Field(min_length=1, max_length=200)]  # a tenant's, a project's, a person's
Title = Name  # a task's: a name by another word
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
