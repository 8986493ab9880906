"""What is measured: each scenario is one request, sent to Dependable and to its baseline."""

import json
from dataclasses import dataclass

from bench.data import BenchData

# The server each side of a scenario runs on (see bench/run.py for what each one is).
BASELINE = "baseline"
BASELINE_NO_CACHE = "baseline-no-cache"
DEPENDABLE = "dependable"
DEPENDABLE_NO_CACHE = "dependable-no-cache"
FLOOR = "floor"

TASK_BODY = json.dumps({"title": "Write the benchmark", "description": "Created by wrk."})


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: str | None = None
    authenticated: bool = True


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    # The measured app ("Dependable", or FastAPI itself for the floor) and its server.
    subject: str
    subject_server: str
    subject_request: Request
    baseline_server: str
    baseline_request: Request
    # Floor scenarios show FastAPI alone; they have no targets and are not profiled.
    floor: bool = False


def scenarios(data: BenchData) -> list[Scenario]:
    project = f"/api/v1/projects/{data.project_id}"
    first_page = Request("GET", f"{project}/tasks?limit=50")
    deep_page = Request("GET", f"{project}/tasks?limit=50&cursor={data.deep_cursor}")
    create = Request("POST", f"/api/v1/projects/{data.inbox_id}/tasks", TASK_BODY)
    empty = Request("GET", "/empty", authenticated=False)

    def product(key: str, title: str, request: Request, *, cache: bool = True) -> Scenario:
        return Scenario(
            key=key,
            title=title,
            subject="Dependable",
            subject_server=DEPENDABLE if cache else DEPENDABLE_NO_CACHE,
            subject_request=request,
            baseline_server=BASELINE if cache else BASELINE_NO_CACHE,
            baseline_request=request,
        )

    return [
        Scenario(
            key="floor-empty",
            title="FastAPI: empty route",
            subject="FastAPI",
            subject_server=FLOOR,
            subject_request=empty,
            baseline_server=BASELINE,
            baseline_request=empty,
            floor=True,
        ),
        Scenario(
            key="floor-deps10",
            title="FastAPI: ten trivial dependencies",
            subject="FastAPI",
            subject_server=FLOOR,
            subject_request=Request("GET", "/deps10", authenticated=False),
            baseline_server=BASELINE,
            baseline_request=empty,
            floor=True,
        ),
        product("users-me", "`GET /users/me`", Request("GET", "/api/v1/users/me")),
        product("project", "`GET /projects/{id}`, cache on", Request("GET", project)),
        product(
            "project-no-cache",
            "`GET /projects/{id}`, cache off",
            Request("GET", project),
            cache=False,
        ),
        product("first-page", "tasks: first page of 50", first_page),
        product("deep-page", "tasks: page of 50 at 99,900", deep_page),
        product("create", "`POST .../tasks` (create)", create),
    ]


def mixed(data: BenchData) -> list[Scenario]:
    """The long run that watches Dependable's memory: every distinct product request in turn."""
    seen: dict[tuple[str, str], Scenario] = {}
    for scenario in scenarios(data):
        request = scenario.subject_request
        if not scenario.floor:
            seen.setdefault((request.method, request.path), scenario)
    return list(seen.values())
