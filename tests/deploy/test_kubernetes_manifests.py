"""The Kubernetes manifests (deploy/kubernetes, docs/deployment.md) agree with the image and the
app: the variables they set are settings the app reads, secrets come from the Secret only, the
command, port, user and probes are the Dockerfile's and the app's. `make k8s-check` validates
the same files against the Kubernetes schemas and checkov's policies, which know none of this.

Read from the source files, so that it runs without kustomize; the last class renders the
overlays (kubectl or kustomize) to check what only a render shows."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML has no inline types; no stubs installed
from httpx import AsyncClient
from pydantic import BaseModel, SecretStr, ValidationError
from typer.testing import CliRunner

from app.core.config import (
    HealthSettings,
    OperationsSettings,
    Settings,
    WorkerSettings,
    load_settings,
)
from app.worker.commands import worker
from app.worker.heartbeat import Heartbeat
from tests.core.test_env_example import setting_names
from tests.e2e.test_server_limits import dockerfile_command, options
from tests.fixtures.secrets import strong_secret

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
BASE = MANIFESTS / "base"
PRODUCTION = MANIFESTS / "overlays" / "production"
PRODUCTION_MIGRATION = MANIFESTS / "overlays" / "production-migration"
# Variables that are not settings but that a process in the image reads.
UVICORN_VARIABLES = frozenset({"FORWARDED_ALLOW_IPS"})  # trusted proxies, docs/operations.md
# Settings whose value carries a password although their type is a plain string.
URLS_WITH_CREDENTIALS = frozenset(
    {"DATABASE__URL", "DATABASE__MIGRATION_URL", "DATABASE__WORKER_URL", "REDIS__URL"}
)

Resource = dict[str, Any]


def base_resources() -> list[Resource]:
    documents: list[Resource] = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            documents += yaml.safe_load_all(path.read_text())
    return documents


def resource(kind: str, name: str) -> Resource:
    [found] = [
        document
        for document in base_resources()
        if document["kind"] == kind and document["metadata"]["name"] == name
    ]
    return found


def env_file(path: Path) -> dict[str, str]:
    """A kustomize `envs` file: KEY=VALUE lines; comments and blank lines skipped."""
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def production_config() -> dict[str, str]:
    """The ConfigMap production pods get: the production overlay's values merged over the base."""
    return {**env_file(BASE / "config.env"), **env_file(PRODUCTION / "config.env")}


API = resource("Deployment", "dependable-api")
WORKER = resource("Deployment", "dependable-worker")
MIGRATION = resource("Job", "dependable-migrate")
WORKLOADS = {"api": API, "worker": WORKER, "migration": MIGRATION}


def pod(workload: Resource) -> Resource:
    spec: Resource = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Resource) -> Resource:
    [only] = pod(workload)["containers"]
    return dict(only)


def from_secret(workload: Resource, *, optional: bool | None = None) -> dict[str, Resource]:
    """The variables a container takes from a Secret, by name: their secretKeyRef."""
    found: dict[str, Resource] = {}
    for variable in container(workload).get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference and (optional is None or reference.get("optional", False) == optional):
            found[variable["name"]] = reference
    return found


def secret_settings(model: type[BaseModel] = Settings, prefix: str = "") -> set[str]:
    """The settings whose values are secrets: typed SecretStr (alone, optional or in a mapping),
    and the URLs that carry a password."""
    secret = set(URLS_WITH_CREDENTIALS)
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            secret |= secret_settings(annotation, f"{prefix}{name.upper()}__")
        elif SecretStr.__name__ in str(annotation):
            secret.add(f"{prefix}{name.upper()}")
    return secret


def dockerfile_user() -> tuple[int, int]:
    [user] = re.findall(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return int(user[0]), int(user[1])


def dockerfile_exposed_port() -> int:
    [port] = re.findall(r"^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return int(port)


class TestVariables:
    def test_every_variable_is_a_setting_or_uvicorns(self) -> None:
        named = set(production_config())
        for workload in WORKLOADS.values():
            named |= {variable["name"] for variable in container(workload).get("env", [])}

        assert sorted(named - setting_names(Settings) - UVICORN_VARIABLES) == []

    def test_the_pods_read_the_generated_config_map(self) -> None:
        generated = yaml.safe_load((BASE / "kustomization.yaml").read_text())
        [config_map] = generated["configMapGenerator"]

        for workload in WORKLOADS.values():
            assert container(workload)["envFrom"] == [
                {"configMapRef": {"name": config_map["name"]}}
            ]

    def test_secrets_are_never_in_the_config_map(self) -> None:
        assert sorted(secret_settings() & set(production_config())) == []

    @pytest.mark.parametrize("workload", WORKLOADS)
    def test_every_secret_variable_comes_from_a_secret_key_of_its_own_name(
        self, workload: str
    ) -> None:
        variables = container(WORKLOADS[workload])["env"]
        plain = [variable["name"] for variable in variables if "valueFrom" not in variable]
        references = from_secret(WORKLOADS[workload])

        assert plain == []
        assert {name: reference["key"] for name, reference in references.items()} == {
            name: name for name in references
        }

    def test_only_the_migration_holds_the_owners_url(self) -> None:
        assert "DATABASE__MIGRATION_URL" not in from_secret(API)
        assert "DATABASE__MIGRATION_URL" not in from_secret(WORKER)
        assert from_secret(MIGRATION)["DATABASE__MIGRATION_URL"]["name"] == "dependable-migration"

    def test_the_api_never_holds_the_workers_url(self) -> None:
        """Only the worker's login role may run the relay's functions: the API must not be able
        to connect as it (docs/security.md, "The worker's crossings")."""
        assert "DATABASE__WORKER_URL" not in from_secret(API)
        for workload in (WORKER, MIGRATION):  # the worker connects as it; the Job creates it
            reference = from_secret(workload, optional=False)["DATABASE__WORKER_URL"]
            assert reference["name"] == "dependable-worker"


class TestProductionSettings:
    """What a production pod receives makes valid settings, and without the Secret's required
    keys it would not start."""

    @pytest.fixture(autouse=True)
    def _no_settings_from_this_process(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in setting_names(Settings):
            monkeypatch.delenv(name, raising=False)

    def environment(self, workload: Resource) -> dict[str, str]:
        secrets = {name: strong_secret() for name in from_secret(workload, optional=False)}
        return {**production_config(), **secrets}

    @pytest.mark.parametrize("workload", WORKLOADS)
    def test_the_pods_environment_makes_production_settings(
        self, workload: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name, value in self.environment(WORKLOADS[workload]).items():
            monkeypatch.setenv(name, value)

        settings = Settings(_env_file=None)

        assert settings.app_env == "production"
        assert settings.http.resolved_allowed_hosts(settings.app_env) == ["api.example.com"]
        assert settings.http.https_only is True

    @pytest.mark.parametrize("workload", WORKLOADS)
    def test_without_the_secrets_production_refuses_to_start(
        self, workload: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name, value in production_config().items():
            monkeypatch.setenv(name, value)

        with pytest.raises(ValidationError, match="AUTH__SECRET_KEY"):
            Settings(_env_file=None)


class TestTheApiContainer:
    def test_runs_the_dockerfiles_command(self) -> None:
        assert container(API)["command"] == dockerfile_command()
        assert "args" not in container(API)

    def test_serves_on_the_port_the_command_and_the_image_name(self) -> None:
        [port] = container(API)["ports"]
        service = resource("Service", "dependable-api")
        policy = resource("NetworkPolicy", "dependable-api")
        [ingress] = policy["spec"]["ingress"]

        assert port["containerPort"] == int(options(dockerfile_command())["--port"] or 0)
        assert port["containerPort"] == dockerfile_exposed_port()
        assert [entry["targetPort"] for entry in service["spec"]["ports"]] == [port["name"]]
        assert [entry["port"] for entry in ingress["ports"]] == [port["containerPort"]]

    def test_liveness_and_startup_ask_live_readiness_asks_ready(self) -> None:
        paths = {
            probe: container(API)[probe]["httpGet"]["path"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
        }

        assert paths == {
            "startupProbe": "/health/live",
            "livenessProbe": "/health/live",
            "readinessProbe": "/health/ready",
        }

    @pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
    async def test_the_app_answers_each_probe_as_the_kubelet_asks(
        self, client: AsyncClient, probe: str
    ) -> None:
        [port] = container(API)["ports"]
        request = container(API)[probe]["httpGet"]

        # The kubelet names the pod by its address and the container's port.
        response = await client.get(
            request["path"], headers={"Host": f"10.244.0.7:{port['containerPort']}"}
        )

        assert request["port"] == port["name"]
        assert response.status_code == 200, response.text

    def test_readiness_waits_longer_than_the_checks_may_take(self) -> None:
        readiness = container(API)["readinessProbe"]

        assert readiness["timeoutSeconds"] > HealthSettings().check_timeout_seconds

    def test_the_grace_period_covers_the_whole_shutdown(self) -> None:
        sleep = container(API)["lifecycle"]["preStop"]["exec"]["command"]
        drain = int(options(dockerfile_command())["--timeout-graceful-shutdown"] or 0)
        close = OperationsSettings().shutdown_timeout_seconds

        assert sleep[0] == "sleep"
        assert pod(API)["terminationGracePeriodSeconds"] > int(sleep[1]) + drain + close


class TestTheWorker:
    def test_runs_what_compose_runs_with_the_apis_image_and_secrets(self) -> None:
        """The API's secrets, and its own login role's URL, which the API never gets."""
        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

        assert container(WORKER)["command"] == compose["services"]["worker"]["command"]
        assert container(WORKER)["image"] == container(API)["image"]
        worker = from_secret(WORKER)
        assert worker.pop("DATABASE__WORKER_URL")["name"] == "dependable-worker"
        assert worker == from_secret(API)
        assert "DATABASE__WORKER_URL" in compose["services"]["worker"]["environment"]
        assert "DATABASE__WORKER_URL" not in compose["services"]["api"]["environment"]

    def test_its_probes_are_the_heartbeat_check(self) -> None:
        commands = {
            probe: container(WORKER)[probe]["exec"]["command"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        healthcheck = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][
            "worker"
        ]["healthcheck"]["test"]

        assert commands == {
            "startupProbe": ["python", "-m", "app.worker", "check"],
            "livenessProbe": ["python", "-m", "app.worker", "check"],
            "readinessProbe": ["python", "-m", "app.worker", "check", "--ready"],
        }
        assert healthcheck == ["CMD", *commands["livenessProbe"]]

    @pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
    def test_the_worker_answers_each_probe_with_a_fresh_heartbeat(
        self, probe: str, tmp_path: Path
    ) -> None:
        heartbeat = Heartbeat(tmp_path / "heartbeat")
        heartbeat.beat(ready=True, detail="0 events pending")
        arguments = container(WORKER)[probe]["exec"]["command"][3:]  # after python -m app.worker
        load_settings.cache_clear()
        environment = {"APP_ENV": "test", "WORKER__HEARTBEAT_PATH": str(heartbeat.path)}
        try:
            result = CliRunner().invoke(worker, arguments, env=environment)
        finally:
            load_settings.cache_clear()

        assert result.exit_code == 0, result.output
        assert container(WORKER)[probe]["timeoutSeconds"] >= 5  # importing takes a moment

    def test_the_heartbeat_is_written_to_the_writable_volume(self) -> None:
        [mount] = container(WORKER)["volumeMounts"]

        assert WorkerSettings().heartbeat_path.parent == Path(mount["mountPath"])

    def test_liveness_allows_more_than_a_heartbeats_age(self) -> None:
        liveness = container(WORKER)["livenessProbe"]
        window = liveness["periodSeconds"] * liveness["failureThreshold"]

        assert window > WorkerSettings().heartbeat_max_age_seconds

    def test_serves_metrics_on_the_settings_port_to_prometheus_only(self) -> None:
        [port] = container(WORKER)["ports"]
        [ingress] = resource("NetworkPolicy", "dependable-worker")["spec"]["ingress"]

        assert port["containerPort"] == WorkerSettings().metrics_port
        assert [entry["port"] for entry in ingress["ports"]] == [port["containerPort"]]
        assert [source["namespaceSelector"] for source in ingress["from"]] == [
            {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        ]

    def test_the_grace_period_covers_the_batch_in_hand_and_the_close(self) -> None:
        stop = WorkerSettings().shutdown_timeout_seconds
        close = OperationsSettings().shutdown_timeout_seconds

        assert pod(WORKER)["terminationGracePeriodSeconds"] > stop + close


class TestTheMigrationJob:
    def test_runs_what_compose_runs_before_the_api(self) -> None:
        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

        assert container(MIGRATION)["command"] == compose["services"]["migrate"]["command"]

    def test_runs_the_same_image_as_the_api(self) -> None:
        assert container(MIGRATION)["image"] == container(API)["image"]


@pytest.mark.parametrize("workload", WORKLOADS)
class TestPodSecurity:
    def test_runs_as_the_images_user(self, workload: str) -> None:
        context = pod(WORKLOADS[workload])["securityContext"]
        user, group = dockerfile_user()

        assert (context["runAsNonRoot"], context["runAsUser"], context["runAsGroup"]) == (
            True,
            user,
            group,
        )

    def test_read_only_root_without_privileges(self, workload: str) -> None:
        context = container(WORKLOADS[workload])["securityContext"]

        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}

    def test_tmp_is_the_one_writable_place(self, workload: str) -> None:
        volumes = {volume["name"]: volume for volume in pod(WORKLOADS[workload])["volumes"]}
        mounts = container(WORKLOADS[workload])["volumeMounts"]

        assert [mount["mountPath"] for mount in mounts] == ["/tmp"]  # noqa: S108 (an emptyDir)
        assert "emptyDir" in volumes[mounts[0]["name"]]


class TestSelectors:
    """Every object that points at the API's pods finds them by their labels."""

    def test_the_deployment_selects_its_own_pods(self) -> None:
        labels = API["spec"]["template"]["metadata"]["labels"]

        assert API["spec"]["selector"]["matchLabels"].items() <= labels.items()

    @pytest.mark.parametrize(
        ("kind", "name", "path"),
        [
            ("Service", "dependable-api", ("spec", "selector")),
            ("PodDisruptionBudget", "dependable-api", ("spec", "selector", "matchLabels")),
            ("NetworkPolicy", "dependable-api", ("spec", "podSelector", "matchLabels")),
        ],
    )
    def test_selects_the_api_pods(self, kind: str, name: str, path: tuple[str, ...]) -> None:
        selector = resource(kind, name)
        for key in path:
            selector = selector[key]
        labels = API["spec"]["template"]["metadata"]["labels"]

        assert selector.items() <= labels.items()

    def test_the_autoscaler_scales_the_deployment(self) -> None:
        target = resource("HorizontalPodAutoscaler", "dependable-api")["spec"]["scaleTargetRef"]

        assert (target["kind"], target["name"]) == ("Deployment", API["metadata"]["name"])

    def test_the_worker_policy_selects_the_worker_and_nothing_else(self) -> None:
        selector = resource("NetworkPolicy", "dependable-worker")["spec"]["podSelector"]
        labels = WORKER["spec"]["template"]["metadata"]["labels"]

        assert WORKER["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert selector["matchLabels"].items() <= labels.items()
        for other in (API, MIGRATION):
            assert (
                not selector["matchLabels"].items()
                <= other["spec"]["template"]["metadata"]["labels"].items()
            )
        api_selector = resource("NetworkPolicy", "dependable-api")["spec"]["podSelector"]
        assert not api_selector["matchLabels"].items() <= labels.items()

    def test_the_migration_policy_selects_the_job_and_not_the_api(self) -> None:
        selector = resource("NetworkPolicy", "dependable-migrate")["spec"]["podSelector"]
        job_labels = MIGRATION["spec"]["template"]["metadata"]["labels"]

        assert selector["matchLabels"].items() <= job_labels.items()
        assert (
            not selector["matchLabels"].items()
            <= API["spec"]["template"]["metadata"]["labels"].items()
        )


def renderer() -> list[str] | None:
    """The command that renders a kustomization as scripts/k8s-check.sh does, if any."""
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    return None


def render(kustomization: Path) -> list[Resource]:
    command = renderer()
    assert command is not None
    output = subprocess.run(  # noqa: S603 (kubectl or kustomize, on a path of this repository)
        [*command, str(kustomization)], capture_output=True, text=True, check=True
    ).stdout
    return [document for document in yaml.safe_load_all(output) if document]


def identities(resources: list[Resource]) -> set[tuple[str, str]]:
    return {(document["kind"], document["metadata"]["name"]) for document in resources}


@pytest.mark.skipif(renderer() is None, reason="neither kubectl nor kustomize is installed")
class TestRendered:
    def test_the_migration_render_is_production_without_its_deployments(self) -> None:
        production = render(PRODUCTION)
        migration = render(PRODUCTION_MIGRATION)
        deployments = {
            identity for identity in identities(production) if identity[0] == "Deployment"
        }

        assert deployments
        assert identities(migration) == identities(production) - deployments
        assert ("Job", MIGRATION["metadata"]["name"]) in identities(migration)

    def test_production_pins_one_image_from_a_registry(self) -> None:
        images = {
            workload["spec"]["template"]["spec"]["containers"][0]["image"]
            for workload in render(PRODUCTION)
            if workload["kind"] in ("Deployment", "Job")
        }

        [image] = images
        assert re.fullmatch(
            r"[a-z0-9.-]+\.[a-z]+/[a-z0-9/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})", image
        )
