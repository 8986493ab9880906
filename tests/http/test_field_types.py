"""The request field types `new-domain` maps its field kinds to (app/http/schemas.py): each takes
the one JSON type its document names, always fits its column (or is refused), is stored as it is
read back, and is documented as it is checked (schemathesis holds the service to the document)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.http.schemas import FIXED_POINT_PATTERN, Date, FixedPoint, Integer, RequestBody, Timestamp


class Body(RequestBody):
    integer: Integer | None = None
    date: Date | None = None
    fixed_point: FixedPoint | None = None
    timestamp: Timestamp | None = None


def parsed(field: str, value: Any) -> Any:
    """`value` as FastAPI hands the parsed JSON body to the model."""
    return getattr(Body.model_validate({field: value}), field)


def refused(field: str, value: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        Body.model_validate({field: value})
    [error] = raised.value.errors()
    return str(error["msg"])


def documented(field: str) -> dict[str, Any]:
    schema: dict[str, Any] = Body.model_json_schema()["properties"][field]["anyOf"][0]
    return schema


class TestInteger:
    @pytest.mark.parametrize(("value", "stored"), [(7, 7), (-(2**31), -(2**31)), (2.0, 2)])
    def test_whole_json_numbers_within_32_bits(self, value: object, stored: int) -> None:
        assert parsed("integer", value) == stored

    @pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2.5, "7", True])
    def test_anything_else_is_refused(self, value: object) -> None:
        refused("integer", value)

    def test_documents_its_bounds(self) -> None:
        assert documented("integer") == {
            "type": "integer",
            "minimum": -(2**31),
            "maximum": 2**31 - 1,
        }


class TestDate:
    def test_an_iso_date_string(self) -> None:
        assert str(parsed("date", "2030-01-31")) == "2030-01-31"

    @pytest.mark.parametrize("value", [0, 1_900_000_000, "2030-01-31T00:00:00", "31.01.2030"])
    def test_not_a_number_nor_a_datetime(self, value: object) -> None:
        refused("date", value)


class TestFixedPoint:
    @pytest.mark.parametrize(
        ("value", "stored"), [("12.5", "12.50"), ("-3", "-3.00"), ("9999999999.99", None)]
    )
    def test_a_decimal_string_kept_with_two_places(self, value: str, stored: str | None) -> None:
        assert parsed("fixed_point", value) == Decimal(stored or value)
        assert str(parsed("fixed_point", value)) == (stored or value)

    @pytest.mark.parametrize(
        "value", [12.5, 12, "1e3", "1.005", "12345678901", " 1", "NaN", "0x10", ""]
    )
    def test_numbers_and_other_spellings_are_refused(self, value: object) -> None:
        assert 'such as "12.50"' in refused("fixed_point", value)

    def test_documents_what_it_checks(self) -> None:
        assert documented("fixed_point") == {
            "type": "string",
            "pattern": FIXED_POINT_PATTERN,
            "examples": ["12.50"],
        }


class TestTimestamp:
    def test_kept_in_utc(self) -> None:
        moment = parsed("timestamp", "2030-01-31T13:00:00+01:00")

        assert moment == datetime(2030, 1, 31, 12, tzinfo=UTC)
        assert moment.utcoffset().total_seconds() == 0

    @pytest.mark.parametrize(
        "value",
        [
            "2030-01-31T12:00:00",  # no offset: which instant?
            1_900_000_000,
            "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
            "9999-12-31T23:00:00-05:00",  # after year 9999 in UTC
        ],
    )
    def test_refused(self, value: object) -> None:
        refused("timestamp", value)

    def test_documents_the_days_it_refuses(self) -> None:
        assert documented("timestamp") == {
            "type": "string",
            "format": "date-time",
            "pattern": "^(?!0001-01-01|9999-12-31)",
        }
