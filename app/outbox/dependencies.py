"""The relay's providers, for the worker (`resolved`, app/http/outside_request.py): built on the
API's own `get_session`, `get_settings` and `get_resources`, so a batch is a transaction exactly
as a request's is. Tests swap the publisher by overriding `get_event_publisher`.

The recorder that services write events with needs no provider of its own: a service provider
builds it on the request's session (`OutboxRepository`, in a domain's `get_<domain>_service`),
where one more node would be walked at every place the service is declared.
"""

from typing import Annotated

from fastapi import Depends

from app.core.events import EventPublisher
from app.http.deps import ResourcesDep, SessionDep, SettingsDep
from app.outbox.repository import PendingEvents
from app.outbox.service import Backoff, OutboxRelay


async def get_event_publisher(resources: ResourcesDep) -> EventPublisher:
    """Redis Streams, over the process's Redis pool and circuit (`Resources.publisher`)."""
    return resources.publisher


EventPublisherDep = Annotated[EventPublisher, Depends(get_event_publisher)]


async def get_outbox_relay(
    session: SessionDep, publisher: EventPublisherDep, settings: SettingsDep
) -> OutboxRelay:
    """One relay batch, in the session's transaction (committed when the block ends)."""
    events = settings.events
    return OutboxRelay(
        PendingEvents(session),
        publisher,
        batch_size=events.relay_batch_size,
        backoff=Backoff(events.retry_base_seconds, events.retry_max_seconds),
    )
