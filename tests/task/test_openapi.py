"""What the OpenAPI document says of the task routes beyond their own code."""

from fastapi import FastAPI

from app.idempotency.exceptions import IdempotencyInFlightError


def test_create_task_documents_the_409_of_its_idempotency_dependency(app_instance: FastAPI) -> None:
    spec = app_instance.openapi()
    conflict = spec["paths"]["/api/v1/projects/{project_id}/tasks"]["post"]["responses"]["409"]

    assert IdempotencyInFlightError.title in conflict["description"]
    # Served as problem+json, documented as problem+json, and nowhere else.
    assert conflict["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
