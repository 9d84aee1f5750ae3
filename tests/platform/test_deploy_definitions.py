"""The deployment definitions hold together: CI, pre-commit, Docker, Compose, Kubernetes, ADRs.

Plain parsing tests: no services, no fixtures. They catch a renamed CLI command that a
manifest still runs, a coverage threshold that drifted from pyproject.toml, a resource
that kustomize would not find, and the like.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci-cd.yml"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
ADR_DIR = ROOT / "docs" / "adr"

YAML_FILES = sorted(
    [*(ROOT / ".github" / "workflows").glob("*.y*ml"), *DEPLOY.rglob("*.y*ml"), PRE_COMMIT]
)
PIPELINE = [
    "test",
    "security-scan",
    "build-image",
    "deploy-staging",
    "smoke-tests",
    "deploy-production",
]
SECRET_KEYS = {"database-url", "redis-url", "master-key", "openai-api-key"}


def load_all(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_one(path: Path) -> dict[str, Any]:
    docs = load_all(path)
    assert len(docs) == 1, f"{path} should hold exactly one YAML document"
    return docs[0]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def workflow() -> dict[str, Any]:
    return load_one(WORKFLOW)


def coverage_threshold() -> int:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return int(tomllib.load(handle)["tool"]["coverage"]["report"]["fail_under"])


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(load_all(path))
    return docs


def k8s_find(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    return resource["spec"]["template"]["spec"]


def cli_commands() -> set[tuple[str, ...]]:
    """Every `wellcoach ...` command path the Typer app registers, e.g. ("db", "upgrade")."""
    from typer.main import get_command_name

    from cli.main import app

    def name_of(info: Any) -> str:
        return info.name or get_command_name(info.callback.__name__)

    commands = {(name_of(info),) for info in app.registered_commands}
    for group in app.registered_groups:
        commands.add((group.name,))
        for info in group.typer_instance.registered_commands:
            commands.add((group.name, name_of(info)))
    return commands


def wellcoach_invocation(command: Any) -> tuple[str, ...] | None:
    """The command path of a `wellcoach` invocation (options dropped), else None."""
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not argv or Path(argv[0]).name != "wellcoach":
        return None
    words = []
    for arg in argv[1:]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return tuple(words)


def assert_known_command(argv: Any, where: str) -> None:
    path = wellcoach_invocation(argv)
    assert path, f"{where}: {argv!r} is not a `wellcoach` command"
    known = cli_commands()
    # The longest registered prefix must be the whole path, or be followed by arguments
    # of a leaf command (e.g. `db upgrade head`).
    matched = [path[:n] for n in range(len(path), 0, -1) if path[:n] in known]
    assert matched, f"{where}: `wellcoach {' '.join(path)}` is not a registered command"
    leaf = matched[0]
    assert not any(other[: len(leaf)] == leaf and len(other) > len(leaf) for other in known), (
        f"{where}: `wellcoach {' '.join(leaf)}` is a group, not a command"
    )


# --- every YAML file parses ---------------------------------------------------------------


def test_the_expected_yaml_files_exist() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in YAML_FILES}
    for expected in (
        ".github/workflows/ci-cd.yml",
        ".pre-commit-config.yaml",
        "deploy/docker-compose.yml",
        "deploy/k8s/base/kustomization.yaml",
        "deploy/k8s/overlays/staging/kustomization.yaml",
        "deploy/k8s/overlays/production/kustomization.yaml",
    ):
        assert expected in names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


# --- CI/CD workflow -----------------------------------------------------------------------


def test_workflow_triggers_on_push_to_main_and_pull_requests() -> None:
    wf = workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "main" in triggers["push"]["branches"]
    assert "pull_request" in triggers


def test_workflow_has_the_spec_stages() -> None:
    assert set(PIPELINE) <= set(workflow()["jobs"])


def test_workflow_stages_are_chained_by_needs() -> None:
    jobs = workflow()["jobs"]
    needs = {name: set(as_list(job.get("needs"))) for name, job in jobs.items()}
    assert needs["test"] == set()
    assert {"test", "security-scan"} <= needs["build-image"]
    assert "build-image" in needs["deploy-staging"]
    assert "deploy-staging" in needs["smoke-tests"]
    assert "smoke-tests" in needs["deploy-production"]
    for name, required in needs.items():
        assert required <= set(jobs), f"{name} needs an unknown job: {required - set(jobs)}"

    def upstream(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        assert name not in seen, f"needs cycle through {name}"
        result = set(needs[name])
        for parent in needs[name]:
            result |= upstream(parent, seen | {name})
        return result

    assert set(PIPELINE) - {"deploy-production"} <= upstream("deploy-production")


def test_deploy_production_waits_for_approval() -> None:
    job = workflow()["jobs"]["deploy-production"]
    environment = job["environment"]
    name = environment["name"] if isinstance(environment, dict) else environment
    assert name == "production"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert job["env"]["OVERLAY"] == "deploy/k8s/overlays/production"
    assert 'kubectl apply -k "$OVERLAY"' in script
    assert "kubectl rollout status deployment/wellcoach-api -n production" in script


def test_deploy_staging_applies_the_overlay_and_waits_for_the_rollout() -> None:
    job = workflow()["jobs"]["deploy-staging"]
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert job["env"]["OVERLAY"] == "deploy/k8s/overlays/staging"
    assert 'kubectl apply -k "$OVERLAY"' in script
    assert "kubectl rollout status deployment/wellcoach-api -n staging --timeout=300s" in script


def test_smoke_tests_check_health_and_meta() -> None:
    script = "\n".join(s.get("run", "") for s in workflow()["jobs"]["smoke-tests"]["steps"])
    assert re.search(r"curl -f\b.*\$STAGING_URL/health", script)
    assert "$STAGING_URL/v1/meta" in script
    assert '.name == "wellcoach"' in script


def test_test_job_runs_against_postgres_and_redis_services() -> None:
    job = workflow()["jobs"]["test"]
    services = job["services"]
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    assert services["redis"]["image"].startswith("redis:7")
    env = job["env"]
    database = env["WELLCOACH_TEST_DATABASE_URL"]
    assert database.startswith("postgresql://") and ":5432/" in database
    assert "5432:5432" in services["postgres"]["ports"]
    assert env["WELLCOACH_TEST_REDIS_URL"].startswith("redis://localhost:6379/")
    assert "6379:6379" in services["redis"]["ports"]


def test_test_job_lints_and_enforces_the_pyproject_coverage_threshold() -> None:
    runs = [step.get("run", "") for step in workflow()["jobs"]["test"]["steps"]]
    script = "\n".join(runs)
    assert "pip install -e '.[dev]'" in script
    assert re.search(r"^ruff check\b", script, re.M)
    assert re.search(r"^ruff format --check \.", script, re.M)
    pytest_runs = [run for run in runs if "pytest" in run]
    assert len(pytest_runs) == 1
    thresholds = re.findall(r"--cov-fail-under=(\d+)", pytest_runs[0])
    assert thresholds == [str(coverage_threshold())]
    for package in ("wellcoach", "api", "jobs", "cli"):
        assert f"--cov={package}" in pytest_runs[0]


def test_security_scan_audits_dependencies_and_scans_the_image() -> None:
    steps = workflow()["jobs"]["security-scan"]["steps"]
    assert any("pip-audit" in step.get("run", "") for step in steps)
    built = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action@")]
    assert built and built[0]["with"]["file"] == "deploy/Dockerfile"
    trivy = [s for s in steps if s.get("uses", "").startswith("aquasecurity/trivy-action@")]
    assert trivy and trivy[0]["with"]["image-ref"] == built[0]["with"]["tags"]


def test_build_image_pushes_to_ghcr_only_on_main() -> None:
    job = workflow()["jobs"]["build-image"]
    build = next(s for s in job["steps"] if s.get("id") == "build")
    assert build["uses"].startswith("docker/build-push-action@")
    assert build["with"]["file"] == "deploy/Dockerfile"
    assert "refs/heads/main" in str(build["with"]["push"])
    assert job["permissions"]["packages"] == "write"
    assert "ghcr.io/" in "\n".join(step.get("run", "") for step in job["steps"])


def test_workflow_actions_are_pinned() -> None:
    for name, job in workflow()["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                ref = step["uses"].partition("@")[2]
                assert ref and ref not in {"main", "master", "latest"}, (name, step["uses"])


# --- pre-commit ---------------------------------------------------------------------------


def test_pre_commit_runs_ruff_and_the_standard_hooks() -> None:
    repos = {repo["repo"]: repo for repo in load_one(PRE_COMMIT)["repos"]}
    ruff = repos["https://github.com/astral-sh/ruff-pre-commit"]
    ruff_hooks = {hook["id"]: hook for hook in ruff["hooks"]}
    lint = ruff_hooks.get("ruff-check") or ruff_hooks["ruff"]
    assert "--fix" in lint.get("args", [])
    assert "ruff-format" in ruff_hooks
    standard = repos["https://github.com/pre-commit/pre-commit-hooks"]
    hooks = {hook["id"]: hook for hook in standard["hooks"]}
    assert {
        "end-of-file-fixer",
        "trailing-whitespace",
        "check-added-large-files",
        "detect-private-key",
        "check-yaml",
        "check-toml",
        "check-merge-conflict",
    } <= set(hooks)
    assert "--maxkb=1024" in hooks["check-added-large-files"]["args"]
    for repo in (ruff, standard):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", repo["rev"]), repo["rev"]


# --- Dockerfile and Compose ---------------------------------------------------------------


def test_dockerfile_is_multi_stage_non_root_and_runs_the_api() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS \w+", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0"))
    assert "HEALTHCHECK" in text and "/health" in text
    cmd = re.findall(r"^CMD (\[.*\])", text, re.M)
    assert cmd, "the Dockerfile needs an exec-form CMD"
    argv = yaml.safe_load(cmd[-1])
    assert argv == ["wellcoach", "api", "--host", "0.0.0.0", "--port", "8000"]
    assert_known_command(argv, "Dockerfile CMD")
    for source in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", text, re.M):
        if "*" not in source:
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def compose() -> dict[str, Any]:
    return load_one(COMPOSE)


def test_compose_has_every_process_and_the_backing_services() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "scheduler", "dashboard"} <= set(
        services
    )
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    assert services["redis"]["image"].startswith("redis:7")


def test_compose_commands_are_registered_cli_commands() -> None:
    expected = {
        "migrate": ("db", "upgrade"),
        "api": ("api",),
        "worker": ("worker",),
        "scheduler": ("cron",),
        "dashboard": ("dashboard",),
    }
    services = compose()["services"]
    for name, path in expected.items():
        command = services[name]["command"]
        assert wellcoach_invocation(command) == path, name
        assert_known_command(command, f"compose service {name}")
    for name, service in services.items():
        if wellcoach_invocation(service.get("command") or []) is not None:
            assert_known_command(service["command"], f"compose service {name}")


def test_compose_orders_startup_with_health_conditions() -> None:
    services = compose()["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services and dependency != name
            assert spec["condition"] in conditions
    migrate = services["migrate"]["depends_on"]
    assert migrate["postgres"]["condition"] == "service_healthy"
    assert migrate["redis"]["condition"] == "service_healthy"
    for name in ("api", "worker", "scheduler", "dashboard"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    for name in ("postgres", "redis", "api", "dashboard"):
        assert services[name]["healthcheck"]["test"], name
    assert "/health" in str(services["api"]["healthcheck"]["test"])
    assert "/_stcore/health" in str(services["dashboard"]["healthcheck"]["test"])


def test_compose_configures_the_platform_by_environment() -> None:
    for name in ("migrate", "api", "worker", "scheduler", "dashboard"):
        env = compose()["services"][name]["environment"]
        assert env["WELLCOACH_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["WELLCOACH_DATABASE_URL"]
        assert env["WELLCOACH_REDIS_URL"].startswith("redis://redis:6379")
        assert "WELLCOACH_MASTER_KEY" in env
        for optional in (
            "WELLCOACH_OPENAI_API_KEY",
            "WELLCOACH_OPENAI_BASE_URL",
            "WELLCOACH_SMTP_URL",
            "WELLCOACH_INFLUX_URL",
        ):
            assert optional in env
        assert env["WELLCOACH_API__PORT"] == "8000"
        assert env["WELLCOACH_DASHBOARD__PORT"] == "8501"


def comment_above(path: Path, key: str) -> str:
    """The comment lines right above `key:` in a YAML file, joined."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(key + ":"))
    comment: list[str] = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("#").strip())
    return " ".join(comment)


def compose_default(value: str) -> str:
    """The value of `${NAME:-default}` when NAME is unset (the value itself otherwise)."""
    match = re.fullmatch(r"\$\{(\w+):-(.*)\}", value)
    return match.group(2) if match else value


def assert_trusted_proxies(value: str, where: str) -> None:
    """A valid list of proxies, and not the loopback-only default: behind a proxy the
    API would otherwise see every user as the proxy's one address."""
    from wellcoach.config import ApiSettings

    parsed = ApiSettings(trusted_proxies=value).trusted_proxies
    assert parsed not in ("", "*", ApiSettings().trusted_proxies), where


def test_compose_names_the_proxies_trusted_for_x_forwarded_for() -> None:
    services = compose()["services"]
    env = services["api"]["environment"]
    value = env["WELLCOACH_API__TRUSTED_PROXIES"]
    assert value.startswith("${WELLCOACH_API__TRUSTED_PROXIES:-")  # overridable
    assert_trusted_proxies(compose_default(value), "compose api")
    comment = comment_above(COMPOSE, "WELLCOACH_API__TRUSTED_PROXIES")
    assert "X-Forwarded-For" in comment and "proxy" in comment


# --- Kubernetes ---------------------------------------------------------------------------


def test_every_kustomization_reference_exists() -> None:
    kustomizations = sorted(K8S.rglob("kustomization.yaml"))
    assert len(kustomizations) == 3
    for path in kustomizations:
        spec = load_one(path)
        assert spec["kind"] == "Kustomization"
        for entry in spec.get("resources", []):
            target = (path.parent / entry).resolve()
            assert target.exists(), f"{path}: resource {entry} is missing"
            if target.is_dir():
                assert (target / "kustomization.yaml").exists(), f"{path}: {entry}"
        for patch in spec.get("patches", []):
            if "path" in patch:
                assert (path.parent / patch["path"]).exists(), f"{path}: {patch['path']}"


def test_every_base_manifest_is_listed_in_the_base_kustomization() -> None:
    base = K8S / "base"
    listed = set(load_one(base / "kustomization.yaml")["resources"])
    present = {p.name for p in base.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_overlays_set_namespace_image_and_known_replicas() -> None:
    deployments = {d["metadata"]["name"] for d in k8s_documents() if d["kind"] == "Deployment"}
    for env in ("staging", "production"):
        spec = load_one(K8S / "overlays" / env / "kustomization.yaml")
        assert spec["namespace"] == env
        assert "../../base" in spec["resources"]
        assert [image["name"] for image in spec["images"]] == ["wellcoach"]
        assert {r["name"] for r in spec["replicas"]} <= deployments


def test_api_deployment_probes_health_and_readiness() -> None:
    api = k8s_find("Deployment", "wellcoach-api")
    assert api["spec"]["replicas"] == 3
    (container,) = pod_spec(api)["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == 8000
    assert container["readinessProbe"]["httpGet"]["port"] in ("http", 8000)
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }


def test_api_autoscales_from_2_to_20_at_70_percent_cpu() -> None:
    hpa = k8s_find("HorizontalPodAutoscaler", "wellcoach-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "wellcoach-api"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 20)
    cpu = [m for m in hpa["spec"]["metrics"] if m["resource"]["name"] == "cpu"]
    assert cpu[0]["resource"]["target"]["averageUtilization"] == 70


def test_scheduler_is_a_single_replica() -> None:
    scheduler = k8s_find("Deployment", "wellcoach-scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"


def test_k8s_containers_run_registered_cli_commands_and_read_secrets_by_reference() -> None:
    workloads = [d for d in k8s_documents() if d["kind"] in {"Deployment", "Job"}]
    assert {d["metadata"]["name"] for d in workloads} == {
        "wellcoach-api",
        "wellcoach-worker",
        "wellcoach-scheduler",
        "wellcoach-dashboard",
        "wellcoach-migrate",
    }
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert container["image"] == "wellcoach", where
            assert_known_command(container["command"], where)
            refs = {
                item["valueFrom"]["secretKeyRef"]["key"]
                for item in container.get("env", [])
                if "secretKeyRef" in item.get("valueFrom", {})
            }
            assert SECRET_KEYS <= refs, where
            names = {
                item["valueFrom"]["secretKeyRef"]["name"]
                for item in container.get("env", [])
                if "secretKeyRef" in item.get("valueFrom", {})
            }
            assert names == {"wellcoach-secrets"}, where
    assert wellcoach_invocation(
        k8s_find("Job", "wellcoach-migrate")["spec"]["template"]["spec"]["containers"][0]["command"]
    ) == ("db", "upgrade")


def test_no_secret_values_are_committed() -> None:
    assert not [d for d in k8s_documents() if d["kind"] == "Secret"]
    config = k8s_find("ConfigMap", "wellcoach-config")["data"]
    for key in config:
        assert not re.search(r"KEY|PASSWORD|SECRET|TOKEN|DATABASE_URL|REDIS_URL", key), key


def test_api_pods_name_the_proxies_trusted_for_x_forwarded_for() -> None:
    """Behind an ingress every request comes from the ingress: the API must know to read
    the client's address from X-Forwarded-For, or all users share one per-IP budget."""
    config = k8s_find("ConfigMap", "wellcoach-config")["data"]
    assert_trusted_proxies(config["WELLCOACH_API__TRUSTED_PROXIES"], "wellcoach-config")
    (container,) = pod_spec(k8s_find("Deployment", "wellcoach-api"))["containers"]
    sources = [ref["configMapRef"]["name"] for ref in container.get("envFrom", [])]
    assert "wellcoach-config" in sources
    overridden = [e for e in container.get("env", []) if e["name"].endswith("TRUSTED_PROXIES")]
    assert not overridden
    comment = comment_above(K8S / "base" / "configmap.yaml", "WELLCOACH_API__TRUSTED_PROXIES")
    assert "X-Forwarded-For" in comment and "ingress" in comment  # says what to put there


def test_services_select_their_deployments() -> None:
    for name, port in (("wellcoach-api", 8000), ("wellcoach-dashboard", 8501)):
        service = k8s_find("Service", name)
        deployment = k8s_find("Deployment", name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = pod_spec(deployment)["containers"]
        target = service["spec"]["ports"][0]["targetPort"]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named.get(target, target) == port


# --- Architecture decision records --------------------------------------------------------

ADRS = sorted(ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md"))


def test_adrs_are_numbered_and_indexed() -> None:
    assert len(ADRS) >= 8
    numbers = [int(path.name[:4]) for path in ADRS]
    assert numbers == list(range(1, len(ADRS) + 1))
    index = (ADR_DIR / "README.md").read_text(encoding="utf-8")
    for path in ADRS:
        assert f"({path.name})" in index, f"{path.name} is not in docs/adr/README.md"


@pytest.mark.parametrize("path", ADRS, ids=lambda p: p.name)
def test_adr_has_the_four_sections_and_fits_a_page(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(f"# {path.name[:4]}. ")
    headings = [line[3:].strip() for line in lines if line.startswith("## ")]
    assert headings == ["Status", "Context", "Decision", "Consequences"]
    assert len(lines) < 60
