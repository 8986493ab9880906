"""Tenant isolation as a property (issue 13 item 2).

A Hypothesis state machine interleaves the users of two tenants, of every role, as they create,
list, read, update and delete what a tenant holds (its users, and the rows of its domains), and
aims each tenant at the other's ids: in paths, in bodies, in query parameters, and at the other
tenant itself (`X-Tenant`). Every step checks that:

- the status is the one the model predicts. A 403 comes only from the caller's role, for its own
  tenant's routes, and would be the same for any id; another tenant's id in a path is 404, in a
  body a 422, in a filter an empty page;
- a request carrying the other tenant's ids gets exactly the answer the same request gets with
  ids that exist nowhere (its ghost, sent right after): other tenants' ids are never confirmed;
- no response holds an id or a value (name, title, email...) of the other tenant that the caller
  did not send itself (a 404 echoing the requested path reveals nothing);
and after every step that wrote, the other tenant's owner reads all its data back through the API,
and it must equal the model: what one tenant did never changed the other's.

Hypothesis machines are synchronous; the app runs on the test's event loop with the suite's
fixtures (its real lifespan, the rolled-back connection, the test's Redis database). So the
machine runs in a worker thread and hands each request to the loop (`LoopBridge`). Each example
is a savepoint, rolled back (and Redis flushed) at teardown: every example starts from the same
two tenants, acme and globex, each with a user of every role and a fifth user (and the demo's
rows).
"""

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

from httpx import AsyncClient, Response
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from app.identity.models import Role
from tests.fixtures.auth import Org
from tests.fixtures.loop_bridge import LoopBridge
from tests.fixtures.paths import ME, USERS
from tests.security.isolation_model import (
    EMAILS,
    PRIVILEGED,
    Getter,
    Side,
    State,
    UserRow,
    read_state,
    start,
    tagged,
    user_change_needs_owner,
    user_row,
)

# demo:begin
# isort: split
from hypothesis.stateful import precondition

from app.task.models import TaskStatus
from tests.fixtures.demo import FLAGS, PROJECTS
from tests.security.isolation_model import (
    ProjectRow,
    TaskRow,
    Write,
    descriptions,
    project_names,
    task_row,
)

# demo:end

T = TypeVar("T")

EXAMPLES = 200
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=10,
    deadline=None,
    # A step is a few requests against PostgreSQL: slow next to drawing its data, by design.
    suppress_health_check=[HealthCheck.too_slow],
)
# demo:begin
FLAG_KEYS = ("bulk_tasks", "beta")
IDEMPOTENCY_KEYS = (None, "k1")
# demo:end
WHO = st.tuples(st.sampled_from((0, 1)), st.sampled_from(tuple(Role)))  # (tenant, role)


@dataclasses.dataclass
class World:
    """What every example shares: the fixtures, each tenant's data when an example starts, and
    what the run did."""

    bridge: LoopBridge
    client: AsyncClient
    connection: AsyncConnection
    redis: Redis
    orgs: tuple[Org, Org]
    initial: tuple[State, State] | None = None
    examples: int = 0
    steps: int = 0
    requests: int = 0

    def owner_get(self, org: Org) -> Getter:
        def get(path: str, params: dict[str, str]) -> Any:
            request = self.client.get(path, params=params, headers=org.owner.headers)
            response = self.bridge.run(request)
            assert response.status_code == 200, response.text
            return response.json()

        return get


# --- the response checks ----------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def body_of(response: Response) -> Any:
    return response.json() if response.content else None


def assert_no_leak(response: Response, *, caller: Side, other: Side, sent: str) -> None:
    """Nothing of `other` in a response to `caller`, but what the caller sent (in any case:
    emails are stored lower-cased) or holds itself."""
    haystack = "\n".join([*strings(body_of(response)), *response.headers.values()])
    sent = sent.lower()
    leaked = sorted(
        secret
        for secret in other.secrets - caller.secrets
        if secret in haystack and secret.lower() not in sent
    )
    assert not leaked, f"{other.tag}'s {leaked} in a response to {caller.tag}: {response.text}"


def without_request_id(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: value for key, value in body.items() if key != "request_id"}
    return body


def swapped(value: T, mapping: dict[str, str]) -> T:
    """`value` (a path, a body, parameters) with every key of `mapping` replaced by its value."""
    text = json.dumps(value)
    for old, new in mapping.items():
        text = text.replace(old, new)
    result: T = json.loads(text)
    return result


def ghost_of(value: str) -> str:
    """A stand-in that exists nowhere: a fresh uuid for an id, an unknown slug for a tenant."""
    try:
        uuid.UUID(value)
    except ValueError:
        return f"ghost-{uuid.uuid4().hex[:12]}"
    return str(uuid.uuid4())


def ids(foreign: bool, *values: object) -> tuple[str, ...]:
    """The values to ghost, if they are the other tenant's."""
    return tuple(str(value) for value in values if value is not None) if foreign else ()


# demo:begin
def idem(key: str | None) -> dict[str, str] | None:
    return {"Idempotency-Key": key} if key else None


# demo:end
# --- the machine ------------------------------------------------------------------------------


class TenantIsolation(RuleBasedStateMachine):
    world: ClassVar[World]  # set on the subclass each test run builds

    def __init__(self) -> None:
        super().__init__()
        assert self.world.initial is not None
        self.world.examples += 1
        self.savepoint = self.world.bridge.run(self._begin())
        orgs, initial = self.world.orgs, self.world.initial
        self.sides = (start(orgs[0], initial[0]), start(orgs[1], initial[1]))
        self.caller: Side | None = None  # the tenant acting in this step
        self.wrote = False  # whether it sent anything but GET

    async def _begin(self) -> AsyncTransaction:
        return await self.world.connection.begin_nested()

    def teardown(self) -> None:
        self.world.bridge.run(self._rollback())

    async def _rollback(self) -> None:
        await self.savepoint.rollback()
        await self.world.redis.flushdb()

    # --- sending ------------------------------------------------------------------------------

    def who(self, who: tuple[int, Role]) -> tuple[Side, Role]:
        self.world.steps += 1  # every rule starts here
        self.caller = self.sides[who[0]]
        return self.caller, who[1]

    def other(self, side: Side) -> Side:
        return self.sides[1] if side is self.sides[0] else self.sides[0]

    def send(
        self,
        side: Side,
        role: Role,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        request = self.world.client.request(
            method,
            path,
            json=body,
            params=params,
            headers={**side.org.actors[role].headers, **(headers or {})},
        )
        response = self.world.bridge.run(request)
        self.world.requests += 1
        self.wrote = self.wrote or method != "GET"
        sent = json.dumps([path, body, params, headers], ensure_ascii=False)
        assert_no_leak(response, caller=side, other=self.other(side), sent=sent)
        return response

    def expect(
        self,
        side: Side,
        role: Role,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        foreign: tuple[str, ...] = (),
    ) -> Response:
        """Send and check the status; if the request carries `foreign` values (the other
        tenant's ids or slug), send it again with ghosts in their place: same answer."""
        response = self.send(side, role, method, path, body=body, params=params, headers=headers)
        assert response.status_code == status, (
            f"{side.tag}'s {role} {method} {path} {body or ''} {params or ''} {headers or ''}: "
            f"expected {status}, got {response.status_code} {response.text}"
        )
        if foreign:
            ghosts = {value: ghost_of(value) for value in foreign}
            ghost = self.send(
                side,
                role,
                method,
                swapped(path, ghosts),
                body=swapped(body, ghosts),
                params=swapped(params, ghosts),
                headers=swapped(headers, ghosts),
            )
            back = {new: old for old, new in ghosts.items()}
            assert ghost.status_code == response.status_code, ghost.text
            assert without_request_id(swapped(body_of(ghost), back)) == without_request_id(
                body_of(response)
            ), f"the other tenant's id was answered unlike an unknown one: {response.text}"
        return response

    def draw_target(
        self, data: st.DataObject, mine: list[uuid.UUID], theirs: list[uuid.UUID], label: str
    ) -> tuple[uuid.UUID, bool]:
        """An id to aim at, and whether it is the other tenant's: first whose (each as likely,
        however many ids either has), then which (the caller's may be deleted ones)."""
        foreign = data.draw(st.booleans(), f"{label} of the other tenant") if mine else True
        return data.draw(st.sampled_from(theirs if foreign else mine), label), foreign

    # demo:begin
    def draw_project(self, data: st.DataObject, side: Side) -> tuple[uuid.UUID, bool]:
        other = self.other(side)
        return self.draw_target(data, side.projects_ever, other.projects_ever, "project")

    def draw_assignee(self, data: st.DataObject, side: Side) -> tuple[uuid.UUID | None, bool]:
        if data.draw(st.booleans(), "no assignee"):
            return None, False
        return self.draw_target(data, side.users_ever, self.other(side).users_ever, "assignee")

    # --- projects -----------------------------------------------------------------------------

    @rule(who=WHO, data=st.data())
    def create_project(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        body = {
            "name": data.draw(project_names(side.tag), "name"),
            "description": data.draw(descriptions(side.tag), "description"),
        }
        key = data.draw(st.sampled_from(IDEMPOTENCY_KEYS), "idempotency key")
        if self.key_reused(side, role, PROJECTS, PROJECTS, body, key):
            return
        if not role.at_least(Role.MEMBER):
            status = 403
        else:
            status = 409 if side.name_taken(body["name"]) else 201
        response = self.expect(side, role, "POST", PROJECTS, status, body=body, headers=idem(key))
        if status == 201:
            created = response.json()
            row = ProjectRow(body["name"].strip(), body["description"].strip())
            assert ProjectRow(created["name"], created["description"]) == row
            project_id = uuid.UUID(created["id"])
            side.state.projects[project_id] = row
            side.projects_ever.append(project_id)
            side.keep(project_id, row.name, row.description)
            self.remember(side, role, PROJECTS, key, Write(PROJECTS, body, created))

    @rule(who=WHO)
    def list_projects(self, who: tuple[int, Role]) -> None:
        side, role = self.who(who)
        response = self.expect(side, role, "GET", PROJECTS, 200, params={"limit": "100"})
        listed = response.json()["items"]
        projects = {uuid.UUID(p["id"]): ProjectRow(p["name"], p["description"]) for p in listed}
        assert projects == side.state.projects

    @rule(who=WHO, data=st.data())
    def read_project(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        project_id, foreign = self.draw_project(data, side)
        row = side.state.projects.get(project_id)
        path = f"{PROJECTS}/{project_id}"
        status = 200 if row else 404
        response = self.expect(side, role, "GET", path, status, foreign=ids(foreign, project_id))
        if row:
            assert ProjectRow(response.json()["name"], response.json()["description"]) == row

    @rule(who=WHO, data=st.data())
    def update_project(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        project_id, foreign = self.draw_project(data, side)
        fields = {"name": project_names(side.tag), "description": descriptions(side.tag)}
        changes = data.draw(st.fixed_dictionaries({}, optional=fields), "changes")
        row = side.state.projects.get(project_id)
        if not role.at_least(Role.MEMBER):
            status = 403
        elif row is None:
            status = 404
        else:
            renamed = "name" in changes and changes["name"].strip() != row.name
            status = 409 if renamed and side.name_taken(changes["name"]) else 200
        path = f"{PROJECTS}/{project_id}"
        self.expect(
            side, role, "PATCH", path, status, body=changes, foreign=ids(foreign, project_id)
        )
        if status == 200 and row:
            new = dataclasses.replace(row, **{k: v.strip() for k, v in changes.items()})
            side.state.projects[project_id] = new
            side.keep(new.name, new.description)

    @rule(who=WHO, data=st.data())
    def delete_project(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        project_id, foreign = self.draw_project(data, side)
        exists = project_id in side.state.projects
        status = 403 if not role.at_least(Role.MEMBER) else 204 if exists else 404
        path = f"{PROJECTS}/{project_id}"
        self.expect(side, role, "DELETE", path, status, foreign=ids(foreign, project_id))
        if status == 204:
            del side.state.projects[project_id]
            for task_id, task in list(side.state.tasks.items()):
                if task.project_id == project_id:  # ON DELETE CASCADE
                    del side.state.tasks[task_id]

    # --- tasks --------------------------------------------------------------------------------

    def draw_task_body(self, data: st.DataObject, side: Side) -> tuple[dict[str, Any], bool]:
        assignee, foreign = self.draw_assignee(data, side)
        body = {
            "title": data.draw(tagged(side.tag), "title"),
            "description": data.draw(descriptions(side.tag), "description"),
            "status": data.draw(st.sampled_from(tuple(TaskStatus)), "status").value,
            "assignee_id": str(assignee) if assignee else None,
        }
        return body, foreign

    def draw_task(
        self, data: st.DataObject, side: Side
    ) -> tuple[uuid.UUID, uuid.UUID, tuple[str, ...]]:
        """A task, the project to address it under (mostly the task's own, sometimes another
        of either tenant), and those of the two that are the other tenant's."""
        other = self.other(side)
        task_id, foreign = self.draw_target(
            data, list(side.tasks_ever), list(other.tasks_ever), "task"
        )
        its_project = (other if foreign else side).tasks_ever[task_id]
        project_id, foreign_project = its_project, foreign
        if data.draw(st.integers(0, 3), "under another project") == 0:
            project_id, foreign_project = self.draw_project(data, side)
        return task_id, project_id, ids(foreign, task_id) + ids(foreign_project, project_id)

    def add_task(self, side: Side, body: dict[str, Any], created: dict[str, Any]) -> None:
        task_id = uuid.UUID(created["id"])
        assignee = body["assignee_id"]
        row = TaskRow(
            uuid.UUID(created["project_id"]),
            body["title"].strip(),
            body["description"].strip(),
            TaskStatus(body["status"]),
            uuid.UUID(assignee) if assignee else None,
        )
        assert task_row(created) == row
        side.state.tasks[task_id] = row
        side.tasks_ever[task_id] = row.project_id
        side.keep(task_id, row.title, row.description)

    @rule(who=WHO, data=st.data())
    def create_task(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        project_id, foreign_project = self.draw_project(data, side)
        body, foreign_assignee = self.draw_task_body(data, side)
        key = data.draw(st.sampled_from(IDEMPOTENCY_KEYS), "idempotency key")
        route = PROJECTS + "/{project_id}/tasks"
        path = f"{PROJECTS}/{project_id}/tasks"
        foreign = ids(foreign_project, project_id) + ids(foreign_assignee, body["assignee_id"])
        if self.key_reused(side, role, route, path, body, key, foreign):
            return
        if not role.at_least(Role.MEMBER):
            status = 403
        elif project_id not in side.state.projects:
            status = 404
        else:
            status = 201 if side.assignable(body["assignee_id"]) else 422
        response = self.expect(
            side, role, "POST", path, status, body=body, headers=idem(key), foreign=foreign
        )
        if status == 201:
            self.add_task(side, body, response.json())
            self.remember(side, role, route, key, Write(path, body, response.json()))

    @rule(who=WHO, data=st.data())
    def create_tasks_in_bulk(self, who: tuple[int, Role], data: st.DataObject) -> None:
        """Behind the `bulk_tasks` flag: one tenant turning it on opens it for no other."""
        side, role = self.who(who)
        project_id, foreign_project = self.draw_project(data, side)
        count = data.draw(st.integers(1, 3), "tasks")
        drawn = [self.draw_task_body(data, side) for _ in range(count)]
        bodies = [body for body, _ in drawn]
        if not side.state.flags.get("bulk_tasks", False):
            status = 404  # the route does not exist for this tenant
        elif not role.at_least(Role.MEMBER):
            status = 403
        elif project_id not in side.state.projects:
            status = 404
        else:
            fine = all(side.assignable(body["assignee_id"]) for body in bodies)
            status = 201 if fine else 422
        foreign = ids(foreign_project, project_id)
        for body, foreign_assignee in drawn:
            foreign += ids(foreign_assignee, body["assignee_id"])
        path = f"{PROJECTS}/{project_id}/tasks:bulk"
        response = self.expect(
            side, role, "POST", path, status, body={"tasks": bodies}, foreign=foreign
        )
        if status == 201:
            for body, created in zip(bodies, response.json(), strict=True):
                self.add_task(side, body, created)

    @rule(who=WHO, data=st.data())
    def read_task(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        task_id, project_id, foreign = self.draw_task(data, side)
        found = side.task_found(task_id, project_id)
        path = f"{PROJECTS}/{project_id}/tasks/{task_id}"
        response = self.expect(side, role, "GET", path, 200 if found else 404, foreign=foreign)
        if found:
            assert task_row(response.json()) == side.state.tasks[task_id]

    @rule(who=WHO, data=st.data())
    def update_task(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        task_id, project_id, foreign = self.draw_task(data, side)
        full, foreign_assignee = self.draw_task_body(data, side)
        fields = data.draw(st.sets(st.sampled_from(sorted(full))), "fields")
        changes = {name: full[name] for name in sorted(fields)}
        if "assignee_id" in changes:
            foreign += ids(foreign_assignee, changes["assignee_id"])
        if not role.at_least(Role.MEMBER):
            status = 403
        elif not side.task_found(task_id, project_id):
            status = 404
        else:
            status = 200 if side.assignable(changes.get("assignee_id")) else 422
        path = f"{PROJECTS}/{project_id}/tasks/{task_id}"
        response = self.expect(side, role, "PATCH", path, status, body=changes, foreign=foreign)
        if status == 200:
            updated = task_row(response.json())
            assert updated == dataclasses.replace(side.state.tasks[task_id], **parsed(changes))
            side.state.tasks[task_id] = updated
            side.keep(updated.title, updated.description)

    @rule(who=WHO, data=st.data())
    def delete_task(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        task_id, project_id, foreign = self.draw_task(data, side)
        if not role.at_least(Role.MEMBER):
            status = 403
        else:
            status = 204 if side.task_found(task_id, project_id) else 404
        path = f"{PROJECTS}/{project_id}/tasks/{task_id}"
        self.expect(side, role, "DELETE", path, status, foreign=foreign)
        if status == 204:
            del side.state.tasks[task_id]

    @rule(who=WHO, data=st.data())
    def list_tasks(self, who: tuple[int, Role], data: st.DataObject) -> None:
        """With the assignee filter aimed at either tenant's users."""
        side, role = self.who(who)
        project_id, foreign_project = self.draw_project(data, side)
        assignee, foreign_assignee = self.draw_assignee(data, side)
        status_filter = data.draw(st.sampled_from((None, *TaskStatus)), "status filter")
        params = {"limit": "100"}
        if assignee:
            params["assignee_id"] = str(assignee)
        if status_filter:
            params["status"] = status_filter.value
        found = project_id in side.state.projects
        path = f"{PROJECTS}/{project_id}/tasks"
        foreign = ids(foreign_project, project_id) + ids(foreign_assignee, assignee)
        response = self.expect(
            side, role, "GET", path, 200 if found else 404, params=params, foreign=foreign
        )
        if found:
            expected = {
                task_id: task
                for task_id, task in side.state.tasks.items()
                if task.project_id == project_id
                and (assignee is None or task.assignee_id == assignee)
                and (status_filter is None or task.status is status_filter)
            }
            assert {uuid.UUID(t["id"]): task_row(t) for t in response.json()["items"]} == expected

    # demo:end
    # --- users --------------------------------------------------------------------------------

    @rule(who=WHO, data=st.data())
    def create_user(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        new_role = data.draw(st.sampled_from((Role.ADMIN, Role.MEMBER, Role.VIEWER)), "role")
        body = {
            "email": data.draw(st.sampled_from(EMAILS), "email"),
            "password": "correct horse battery staple",
            "full_name": data.draw(tagged(side.tag), "full name"),
            "role": new_role.value,
        }
        taken = {user.email for user in side.state.users.values()}
        if not role.at_least(Role.ADMIN) or (new_role in PRIVILEGED and role is not Role.OWNER):
            status = 403
        else:
            status = 409 if body["email"].lower() in taken else 201
        response = self.expect(side, role, "POST", USERS, status, body=body)
        if status == 201:
            user_id = uuid.UUID(response.json()["id"])
            row = UserRow(body["email"].lower(), body["full_name"].strip(), new_role, True)
            assert user_row(response.json()) == row
            side.state.users[user_id] = row
            side.users_ever.append(user_id)
            side.changeable_users.append(user_id)
            side.keep(user_id, row.email, row.full_name)

    @rule(who=WHO, data=st.data())
    def update_user(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        other = self.other(side)
        user_id, foreign = self.draw_target(data, side.changeable_users, other.users_ever, "user")
        new_role = data.draw(st.sampled_from((None, *Role)), "new role")
        active = data.draw(st.sampled_from((None, True, False)), "is_active")
        fields = {"role": new_role.value if new_role else None, "is_active": active}
        body = {name: value for name, value in fields.items() if value is not None}  # null: 422
        target = side.state.users.get(user_id)
        if not role.at_least(Role.ADMIN):
            status = 403
        elif target is None:
            status = 404
        elif user_change_needs_owner(target, new_role, active) and role is not Role.OWNER:
            status = 403
        else:
            status = 200
        path = f"{USERS}/{user_id}"
        response = self.expect(
            side, role, "PATCH", path, status, body=body, foreign=ids(foreign, user_id)
        )
        if status == 200 and target:
            row = dataclasses.replace(
                target,
                role=new_role or target.role,
                is_active=target.is_active if active is None else active,
            )
            assert user_row(response.json()) == row
            side.state.users[user_id] = row

    @rule(who=WHO, data=st.data())
    def delete_user(self, who: tuple[int, Role], data: st.DataObject) -> None:
        side, role = self.who(who)
        other = self.other(side)
        user_id, foreign = self.draw_target(data, side.changeable_users, other.users_ever, "user")
        target = side.state.users.get(user_id)
        if not role.at_least(Role.ADMIN):
            status = 403
        elif target is None:
            status = 404
        elif target.role in PRIVILEGED and role is not Role.OWNER:
            status = 403
        else:
            status = 204
        path = f"{USERS}/{user_id}"
        self.expect(side, role, "DELETE", path, status, foreign=ids(foreign, user_id))
        if status == 204:
            del side.state.users[user_id]
            # demo:begin
            for task_id, task in side.state.tasks.items():
                if task.assignee_id == user_id:  # ON DELETE SET NULL
                    side.state.tasks[task_id] = dataclasses.replace(task, assignee_id=None)
            # demo:end

    @rule(who=WHO)
    def list_users(self, who: tuple[int, Role]) -> None:
        side, role = self.who(who)
        status = 200 if role.at_least(Role.ADMIN) else 403
        response = self.expect(side, role, "GET", USERS, status)
        if status == 200:
            assert {uuid.UUID(u["id"]): user_row(u) for u in response.json()} == side.state.users

    # --- the tenant itself --------------------------------------------------------------------

    # demo:begin: and its feature flags
    @rule(who=WHO, key=st.sampled_from(FLAG_KEYS), enabled=st.booleans())
    def set_flag(self, who: tuple[int, Role], key: str, enabled: bool) -> None:
        side, role = self.who(who)
        status = 200 if role.at_least(Role.ADMIN) else 403
        self.expect(side, role, "PUT", f"{FLAGS}/{key}", status, body={"enabled": enabled})
        if status == 200:
            side.state.flags[key] = enabled

    # demo:end

    @rule(who=WHO)
    def name_the_other_tenant(self, who: tuple[int, Role]) -> None:
        """A token names its tenant; naming another one in `X-Tenant` is 403 whether that
        tenant exists or not (the ghost proves it), so this 403 confirms nothing."""
        side, role = self.who(who)
        slug = self.other(side).tag
        headers = {"X-Tenant": slug}
        self.expect(side, role, "GET", ME, 403, headers=headers, foreign=(slug,))

    # demo:begin
    # --- idempotency keys ---------------------------------------------------------------------

    def key_reused(
        self,
        side: Side,
        role: Role,
        route: str,
        path: str,
        body: Any,
        key: str | None,
        foreign: tuple[str, ...] = (),
    ) -> bool:
        """If the caller already ran a POST on `route` under `key`: the same request again is
        replayed (the stored answer, nothing written), another one is 422, the key is spent.
        (Keys belong to their user: the other tenant's users draw the same keys, and theirs
        never count here.)"""
        previous = side.replays.get((role, route, key)) if key else None
        if previous is None:
            return False
        if (path, body) == (previous.path, previous.body):
            self.expect_replay(side, role, previous, key)
            return True
        self.expect(side, role, "POST", path, 422, body=body, headers=idem(key), foreign=foreign)
        return True

    def expect_replay(self, side: Side, role: Role, write: Write, key: str | None) -> None:
        response = self.expect(
            side, role, "POST", write.path, 201, body=write.body, headers=idem(key)
        )
        assert response.headers["idempotent-replayed"] == "true"
        assert response.json() == write.response

    @precondition(lambda self: any(side.replays for side in self.sides))
    @rule(data=st.data())
    def send_a_keyed_write_again(self, data: st.DataObject) -> None:
        """The same POST under the same Idempotency-Key: the stored answer, marked replayed,
        and nothing written."""
        keyed = [
            (i, role, route, key) for i in (0, 1) for role, route, key in self.sides[i].replays
        ]
        index, role, route, key = data.draw(st.sampled_from(keyed), "write")
        side, role = self.who((index, role))
        self.expect_replay(side, role, side.replays[(role, route, key)], key)

    def remember(self, side: Side, role: Role, route: str, key: str | None, write: Write) -> None:
        if key is not None:
            side.replays[(role, route, key)] = write

    # demo:end
    # --- after every step ---------------------------------------------------------------------

    @invariant()
    def the_other_tenant_holds_what_the_model_holds(self) -> None:
        """After a step that wrote (anything but GET), the other tenant reads all its data back:
        untouched by the caller. The caller's own tenant is read in turn after the other's next
        write (reading both every time doubles the run time); a step of reads changed nothing."""
        if self.caller is not None and self.wrote:
            victim = self.other(self.caller)
            assert self.observe(victim) == victim.state, f"{victim.tag}'s data is not the model's"
        self.caller, self.wrote = None, False

    def observe(self, side: Side) -> State:
        def get(path: str, params: dict[str, str]) -> Any:
            response = self.send(side, Role.OWNER, "GET", path, params=params or None)
            assert response.status_code == 200, response.text
            return response.json()

        return read_state(get)


# demo:begin
def parsed(changes: dict[str, Any]) -> dict[str, Any]:
    """A task PATCH body as the fields it sets."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("title", "description"):
            values[name] = value.strip()
        elif name == "status":
            values[name] = TaskStatus(value)
        else:
            values[name] = uuid.UUID(value) if value else None
    return values


# demo:end
async def test_tenants_stay_apart_whatever_they_do(
    client: AsyncClient,
    connection: AsyncConnection,
    redis: Redis,
    acme: Org,
    globex: Org,
    record_property: Callable[[str, object], None],
) -> None:
    world = World(LoopBridge(asyncio.get_running_loop()), client, connection, redis, (acme, globex))
    machine = type("TenantIsolationRun", (TenantIsolation,), {"world": world})

    # demo:begin
    # The tenants start apart in one flag too: acme's bulk route exists, globex's does not.
    enabled = await client.put(
        f"{FLAGS}/bulk_tasks", json={"enabled": True}, headers=acme.admin.headers
    )
    assert enabled.status_code == 200, enabled.text
    # demo:end
    # And each has a fifth user, for its admins to change and delete from the first step.
    for org in (acme, globex):
        extra = {
            "email": f"extra@{org.tenant.slug}.example.com",
            "password": "correct horse battery staple",
            "full_name": f"{org.tenant.slug} extra",
        }
        created = await client.post(USERS, json=extra, headers=org.owner.headers)
        assert created.status_code == 201, created.text

    def run() -> None:
        world.initial = (read_state(world.owner_get(acme)), read_state(world.owner_get(globex)))
        run_state_machine_as_test(machine, settings=SETTINGS)

    started = time.perf_counter()
    await asyncio.to_thread(run)
    seconds = time.perf_counter() - started
    summary = (
        f"tenant isolation: {world.examples} examples, {world.steps} steps, "
        f"{world.requests} requests in {seconds:.1f} s"
    )
    print(summary)  # shown with -s or -rP
    record_property("examples", world.examples)  # and in the JUnit XML
    assert world.examples >= EXAMPLES, summary
