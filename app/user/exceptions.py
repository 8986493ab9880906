from app.core.errors import ConflictError


class EmailTakenError(ConflictError):
    code = "email-taken"
    title = "Email already registered in this tenant"
