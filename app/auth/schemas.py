from typing import Annotated, Literal

from pydantic import Field

from app.http.schemas import RequestBody, Schema, Text


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(RequestBody):
    refresh_token: Annotated[Text, Field(min_length=20, max_length=200)]
