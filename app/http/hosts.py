"""Which Host names the service answers for (`HTTP__ALLOWED_HOSTS`, docs/security.md)."""

from collections.abc import Collection, Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class HostCheckMiddleware:
    """Starlette's `TrustedHostMiddleware` (400 for a Host not in `allowed_hosts`), except on
    `unchecked_paths`: health probes and metrics scrapes name the container by its address
    (Kubernetes sends the pod's IP, Docker's HEALTHCHECK 127.0.0.1), and those answers say
    nothing that depends on the Host, so restricting the names served never fails a probe."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: Sequence[str], unchecked_paths: Collection[str]
    ) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts)
        self.unchecked_paths = frozenset(unchecked_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.unchecked_paths:
            await self.app(scope, receive, send)
        else:
            await self.checked(scope, receive, send)
