from app.core.errors import ConflictError, InvalidInputError


class IdempotencyKeyReusedError(InvalidInputError):
    code = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class IdempotencyInFlightError(ConflictError):
    code = "idempotency-in-flight"
    title = "A request with this idempotency key is still running"


class IdempotencyResponseNotRecordedError(ConflictError):
    code = "idempotency-response-not-recorded"
    title = "The request with this idempotency key ran, but its response was not recorded"
