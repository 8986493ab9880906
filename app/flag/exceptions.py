from app.core.errors import NotFoundError


class FeatureOffError(NotFoundError):
    """A route behind a flag that is off for the tenant. Answered exactly as a path that does not
    exist (`about:blank`, "Not Found"): nothing tells the route is there."""

    code = ""
    title = "Not Found"
