"""Demo data: tenant `demo`, one user of every role, a few projects and N tasks (`seed-demo`).

Idempotent: whatever is missing is created, nothing else is touched, so a second run changes
nothing. Everything is derived from fixed inputs: task number i always has the same title (which
ends in `#i`, its key), project, status, assignee and due date (relative to the tenant's creation
day), so a later run can tell which tasks exist. One transaction (the API's `get_session`) holds
it all, under an advisory lock so two concurrent runs cannot both insert the same tasks.

The tenant, users and projects go through the services, as the API creates them; tasks are
inserted in batches through `TaskRepository.add_all` (no per-task assignee lookup and no
`task.created` events, which is what makes thousands take seconds).
"""

import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.context import RequestContext
from app.cli.provisioning import active_tenant, owner_context, provided, tenant_service
from app.cli.running import CommandError, transaction
from app.core.config import Settings
from app.core.resources import Resources
from app.identity.models import Role, User
from app.identity.repository import UserRepository
from app.identity.schemas import TenantRead
from app.project.dependencies import get_project_service
from app.project.models import Project
from app.project.schemas import ProjectCreate
from app.task.models import Task, TaskStatus
from app.task.repository import TaskRepository
from app.tenant.schemas import SignUpRequest
from app.user.dependencies import get_user_service
from app.user.schemas import UserCreate

DEMO_SLUG = "demo"
DEMO_NAME = "Demo"
TASK_BATCH_SIZE = 500
# pg_advisory_xact_lock key: "seed-demo" as a number; held until the transaction ends.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"dependable:seed-demo").digest()[:8], signed=True)


@dataclass(frozen=True, slots=True)
class DemoUser:
    role: Role
    email: str
    full_name: str
    password: str


DEMO_USERS = (
    DemoUser(Role.OWNER, "owner@demo.example.com", "Olive Owner", "demo-owner-password"),
    DemoUser(Role.ADMIN, "admin@demo.example.com", "Adam Admin", "demo-admin-password"),
    DemoUser(Role.MEMBER, "member@demo.example.com", "Mia Member", "demo-member-password"),
    DemoUser(Role.VIEWER, "viewer@demo.example.com", "Victor Viewer", "demo-viewer-password"),
)
DEMO_PROJECTS = (
    ("Website relaunch", "New marketing site and blog."),
    ("Mobile app", "iOS and Android clients."),
    ("Billing", "Invoices, plans and payment providers."),
    ("Infrastructure", "Clusters, databases and deployment."),
    ("Customer support", "Tickets that became work."),
    ("Onboarding", "The first week of a new customer."),
)
# Weighted wheels: a task's byte of hash picks a slot.
STATUSES = (TaskStatus.TODO,) * 4 + (TaskStatus.DOING,) * 2 + (TaskStatus.DONE,) * 4
ASSIGNEES = (Role.MEMBER, Role.MEMBER, Role.ADMIN, Role.OWNER, None)
VERBS = ("Write", "Review", "Fix", "Design", "Test", "Document", "Deploy", "Plan", "Measure")
SUBJECTS = (
    "the signup flow",
    "invoice emails",
    "the settings page",
    "search results",
    "rate limits",
    "the audit log",
    "push notifications",
    "CSV export",
    "the status page",
    "backups",
)


class SeedProgress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, steps: int, description: str) -> None: ...


@dataclass(slots=True)
class SeedReport:
    created: Counter[str] = field(default_factory=Counter)
    users: int = 0
    projects: int = 0
    tasks_by_status: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def demo_task(
    number: int, projects: Sequence[Project], people: dict[Role, User], day: date
) -> Task:
    """Task `number`, always the same for the same inputs (`projects` in DEMO_PROJECTS order)."""
    h = hashlib.blake2b(str(number).encode(), digest_size=8).digest()
    role = ASSIGNEES[h[2] % len(ASSIGNEES)]
    return Task(
        project_id=projects[number % len(projects)].id,
        title=f"{VERBS[h[0] % len(VERBS)]} {SUBJECTS[h[1] % len(SUBJECTS)]} #{number}",
        description=f"Demo task {number}.",
        status=STATUSES[h[3] % len(STATUSES)],
        assignee_id=people[role].id if role is not None else None,
        due_date=None if h[4] % 5 == 0 else day + timedelta(days=h[5] % 60 - 14),
    )


class DemoQueries:
    """The few statements the seed needs that the domain repositories do not offer."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def projects_named(self, names: Sequence[str]) -> dict[str, Project]:
        statement = select(Project).where(
            Project.tenant_id == self.tenant_id, Project.name.in_(names)
        )
        return {p.name: p for p in await self.session.scalars(statement)}

    async def task_titles(self) -> set[str]:
        statement = select(Task.title).where(Task.tenant_id == self.tenant_id)
        return set(await self.session.scalars(statement))

    async def project_count(self) -> int:
        statement = select(func.count()).where(Project.tenant_id == self.tenant_id)
        return int(await self.session.scalar(statement) or 0)

    async def tasks_by_status(self) -> dict[str, int]:
        statement = (
            select(Task.status, func.count()).where(Task.tenant_id == self.tenant_id)
        ).group_by(Task.status)
        counts = {status: int(n) for status, n in (await self.session.execute(statement)).all()}
        return {status.value: counts.get(status, 0) for status in TaskStatus}


async def _demo_tenant(
    session: AsyncSession, resources: Resources, settings: Settings, report: SeedReport
) -> TenantRead:
    owner = DEMO_USERS[0]
    async with tenant_service(session, resources) as service:
        if await service.tenants.slug_exists(DEMO_SLUG):
            return await active_tenant(session, DEMO_SLUG)
        signup = await service.sign_up(
            SignUpRequest(
                name=DEMO_NAME,
                slug=DEMO_SLUG,
                email=owner.email,
                password=SecretStr(owner.password),
                full_name=owner.full_name,
            )
        )
    report.created["tenant"] += 1
    report.created["users"] += 1
    return TenantRead.model_validate(signup.tenant)


async def _demo_users(
    users: UserRepository, context: RequestContext, report: SeedReport, progress: SeedProgress
) -> dict[Role, User]:
    people: dict[Role, User] = {}
    async with provided(get_user_service, context) as service:
        for demo in DEMO_USERS:
            user = await users.get_by_email(demo.email)
            if user is None:
                if demo.role is Role.OWNER:  # as in the API, only signup makes an owner
                    raise CommandError(
                        f"{demo.email} is no longer a user of tenant {DEMO_SLUG!r}; "
                        "delete the tenant to seed it afresh"
                    )
                fields = {
                    "email": demo.email,
                    "password": demo.password,
                    "full_name": demo.full_name,
                }
                new = UserCreate.model_validate({**fields, "role": demo.role})
                user = await service.create(new)
                report.created["users"] += 1
            people[demo.role] = user
            progress.advance(1, f"user {demo.email}")
    return people


async def seed_demo(
    settings: Settings, resources: Resources, *, tasks: int, progress: SeedProgress
) -> SeedReport:
    if not settings.is_development:
        raise CommandError(
            "seed-demo creates users whose passwords are published: it runs only with "
            f"APP_ENV=development or test, not {settings.app_env}"
        )
    started = time.perf_counter()
    report = SeedReport()
    progress.start(len(DEMO_USERS) + len(DEMO_PROJECTS) + tasks)
    async with transaction(resources) as session:
        await session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        tenant = await _demo_tenant(session, resources, settings, report)
        context = await owner_context(session, resources, tenant)
        users = UserRepository(context.session, tenant.id)
        people = await _demo_users(users, context, report, progress)

        queries = DemoQueries(session, tenant.id)
        existing = await queries.projects_named([name for name, _ in DEMO_PROJECTS])
        async with provided(get_project_service, context) as projects:
            for name, description in DEMO_PROJECTS:
                if name not in existing:
                    new = ProjectCreate(name=name, description=description)
                    existing[name] = await projects.create(new)
                    report.created["projects"] += 1
                progress.advance(1, f"project {name}")
        ordered = [existing[name] for name, _ in DEMO_PROJECTS]

        repository = TaskRepository(context.session, tenant.id)
        titles = await queries.task_titles()
        day = tenant.created_at.date()
        missing = [
            task
            for task in (demo_task(n, ordered, people, day) for n in range(1, tasks + 1))
            if task.title not in titles
        ]
        progress.advance(tasks - len(missing), "tasks")
        for offset in range(0, len(missing), TASK_BATCH_SIZE):
            batch = missing[offset : offset + TASK_BATCH_SIZE]
            await repository.add_all(batch)
            report.created["tasks"] += len(batch)
            progress.advance(len(batch), "tasks")

        report.users = await users.count()
        report.projects = await queries.project_count()
        report.tasks_by_status = await queries.tasks_by_status()
    report.seconds = time.perf_counter() - started
    return report
