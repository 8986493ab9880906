"""What the tenant-isolation state machine (test_isolation_property.py) believes each tenant
holds, what it generates for it, and how a tenant's data is read back through the API."""

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from app.identity.models import Role
from tests.fixtures.auth import Org
from tests.fixtures.paths import USERS

# demo:begin
# isort: split
from app.task.models import TaskStatus
from tests.fixtures.demo import FLAGS, PROJECTS

# demo:end

PRIVILEGED = frozenset({Role.OWNER, Role.ADMIN})
# A tenant's users write its slug into every name, title and description, and the suffix
# alphabet cannot spell the other slug: one tenant's values never occur in the other's data, so a
# leak is a plain substring match.
SUFFIX = st.text(alphabet="0123456789 ·ßé漢", max_size=6)
# Shared by both tenants on purpose: emails are unique per tenant, not across tenants (a global
# constraint would answer 409 and so confirm the other tenant's value).
EMAILS = ("ann@people.example", "Ann@people.example", "bob@people.example", "cy@people.example")


def tagged(tag: str) -> st.SearchStrategy[str]:
    return SUFFIX.map(lambda suffix: f"{tag} {suffix}")


@dataclasses.dataclass(frozen=True)
class UserRow:
    email: str
    full_name: str
    role: Role
    is_active: bool


# demo:begin
SHARED_NAME = "Shared roadmap"  # project names are unique per tenant too


def project_names(tag: str) -> st.SearchStrategy[str]:
    return st.one_of(tagged(tag), st.just(SHARED_NAME))


def descriptions(tag: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), tagged(tag))


@dataclasses.dataclass(frozen=True)
class ProjectRow:
    name: str
    description: str


@dataclasses.dataclass(frozen=True)
class TaskRow:
    project_id: uuid.UUID
    title: str
    description: str
    status: TaskStatus
    assignee_id: uuid.UUID | None


# demo:end
@dataclasses.dataclass
class State:
    """A tenant's data, as its owner reads it through the API."""

    users: dict[uuid.UUID, UserRow]
    # demo:begin
    projects: dict[uuid.UUID, ProjectRow] = dataclasses.field(default_factory=dict)
    tasks: dict[uuid.UUID, TaskRow] = dataclasses.field(default_factory=dict)
    flags: dict[str, bool] = dataclasses.field(default_factory=dict)
    # demo:end

    def copy(self) -> "State":
        return State(**{f.name: dict(getattr(self, f.name)) for f in dataclasses.fields(self)})


@dataclasses.dataclass(frozen=True)
class Write:
    """A POST that ran (201) under an Idempotency-Key: what was sent, and the body to replay."""

    path: str
    body: Any
    response: Any


@dataclasses.dataclass
class Side:
    """One tenant as the machine models it."""

    org: Org
    state: State
    # Every id the tenant ever had, in creation order (deleted ones too: they stay 404). Creation
    # order, not sorted ids: Hypothesis replays and shrinks choices by position.
    users_ever: list[uuid.UUID]
    # The users its admins may change and delete: every one but the four that act, which keep
    # their roles so that every role can act in every step.
    changeable_users: list[uuid.UUID]
    # Every id and value the tenant ever held, deleted ones too: none may reach the other tenant.
    secrets: set[str]
    # (role, route, Idempotency-Key) -> the write that ran under it, to be replayed.
    replays: dict[tuple[Role, str, str], Write]
    # demo:begin
    projects_ever: list[uuid.UUID] = dataclasses.field(default_factory=list)
    tasks_ever: dict[uuid.UUID, uuid.UUID] = dataclasses.field(default_factory=dict)  # -> project
    # demo:end

    @property
    def tag(self) -> str:
        return self.org.tenant.slug

    def keep(self, *values: object) -> None:
        self.secrets.update(str(v) for v in values if v is not None and str(v).strip())

    # demo:begin
    def name_taken(self, name: str) -> bool:
        return name.strip() in {project.name for project in self.state.projects.values()}

    def task_found(self, task_id: uuid.UUID, project_id: uuid.UUID) -> bool:
        task = self.state.tasks.get(task_id)
        return task is not None and task.project_id == project_id

    def assignable(self, assignee: str | None) -> bool:
        return assignee is None or uuid.UUID(assignee) in self.state.users

    # demo:end


def start(org: Org, state: State) -> Side:
    """The tenant at the start of an example: `state`, as read when the test began."""
    actors = {actor.user.id for actor in org.actors.values()}
    side = Side(
        org=org,
        state=state.copy(),
        users_ever=list(state.users),
        changeable_users=[u for u in state.users if u not in actors],
        secrets=set(),
        replays={},
    )
    side.keep(org.tenant.id, org.tenant.slug, org.tenant.name)
    for user_id, user in state.users.items():
        side.keep(user_id, user.email, user.full_name)
    # demo:begin
    side.projects_ever = list(state.projects)
    side.tasks_ever = {task_id: task.project_id for task_id, task in state.tasks.items()}
    for project_id, project in state.projects.items():
        side.keep(project_id, project.name, project.description)
    for task_id, task in state.tasks.items():
        side.keep(task_id, task.title, task.description)
    # demo:end
    return side


def user_change_needs_owner(target: UserRow, role: Role | None, active: bool | None) -> bool:
    """Admins manage members and viewers; only owners touch admins and owners."""
    new_role = role is not None and role != target.role and bool(PRIVILEGED & {target.role, role})
    new_active = active is not None and active != target.is_active and target.role in PRIVILEGED
    return new_role or new_active


# demo:begin
def task_row(body: dict[str, Any]) -> TaskRow:
    assignee = body["assignee_id"]
    return TaskRow(
        uuid.UUID(body["project_id"]),
        body["title"],
        body["description"],
        TaskStatus(body["status"]),
        uuid.UUID(assignee) if assignee else None,
    )


# demo:end
def user_row(body: dict[str, Any]) -> UserRow:
    return UserRow(body["email"], body["full_name"], Role(body["role"]), body["is_active"])


Getter = Callable[[str, dict[str, str]], Any]  # path, query -> the JSON of a 200


def read_state(get: Getter) -> State:
    """Everything of a tenant's, read through the API by its owner."""
    state = State(users={uuid.UUID(u["id"]): user_row(u) for u in get(USERS, {})})
    # demo:begin
    projects_page = get(PROJECTS, {"limit": "100"})
    assert projects_page["next_cursor"] is None
    projects = {
        uuid.UUID(p["id"]): ProjectRow(p["name"], p["description"]) for p in projects_page["items"]
    }
    tasks: dict[uuid.UUID, TaskRow] = {}
    for project_id in projects:
        page = get(f"{PROJECTS}/{project_id}/tasks", {"limit": "100"})
        assert page["next_cursor"] is None
        tasks.update({uuid.UUID(t["id"]): task_row(t) for t in page["items"]})
    flags = {f["key"]: f["enabled"] for f in get(FLAGS, {})}
    state = dataclasses.replace(state, projects=projects, tasks=tasks, flags=flags)
    # demo:end
    return state
