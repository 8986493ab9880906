"""Base schemas shared by every domain, and `Text`, the string type of every request input."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

# PostgreSQL refuses U+0000 in text: a NUL that reaches it is a 500 (and an error log). Every
# string a request carries is therefore `Text` (body, form, query and header fields alike), so a
# NUL is a 422 at the edge. Constrain it further with Field/Query/Form/Header, whose length
# limits keep their usual errors: `Annotated[Text, Field(max_length=200)]`. The check is a
# pattern because pydantic applies length limits to a pattern-checked string as to any string
# (after a validator function they would change error type). An explicit `pattern=` replaces it,
# so such a pattern must exclude NUL itself; tests/http/test_nul_input.py walks every request
# field and parameter and fails if any accepts a NUL.
NO_NUL_PATTERN = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL_PATTERN)]


def _refuse_nul_secret(value: SecretStr) -> SecretStr:
    if "\x00" in value.get_secret_value():
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


# Passwords: SecretStr takes no pattern, so the same rule as a validator.
SecretText = Annotated[SecretStr, AfterValidator(_refuse_nul_secret)]


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
