"""The container and service files name what exists: Docker cannot run here, so each command in compose.yaml,
the Dockerfile and the systemd units is checked against Tandem's own commands and the repository's files."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parent.parent


def _tandem_command_ok(argv: list[str]) -> bool:
    # `tandem <command>`, where the command is one `tandem help --commands` lists (ours or Django's).
    return len(argv) >= 2 and argv[0].rsplit("/", 1)[-1] == "tandem" and argv[1] in get_commands()


def test_compose_runs_web_worker_migrate_postgresql_and_redis_with_real_commands():
    # given compose.yaml
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    # then the five services, each Tandem one running a real `tandem` command
    assert sorted(services) == ["migrate", "postgres", "redis", "web", "worker"]
    commands = {name: services[name]["command"] for name in ("migrate", "web", "worker")}
    assert commands == {
        "migrate": ["tandem", "migrate", "--noinput"],
        "web": ["tandem", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"],
        "worker": ["tandem", "worker", "--threads", "2"],
    }
    assert all(_tandem_command_ok(argv) for argv in commands.values())
    # the web's health check asks /readyz; every service but the one-shot migrate has a health check
    assert "http://localhost:8000/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert sorted(n for n, s in services.items() if "healthcheck" in s) == [
        "postgres",
        "redis",
        "web",
        "worker",
    ]
    # Tandem's services wait for the migrations, which wait for a healthy database and queue
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["web"]["environment"]["TANDEM_REDIS_URL"] == "redis://redis:6379/0"


def test_compose_worker_health_check_imports_what_exists():
    from tandem.core.operations import readiness

    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    check = compose["services"]["worker"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert "from tandem.core.operations import readiness" in check[3]
    assert callable(readiness)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_copies_real_files_runs_as_a_user_and_starts_a_real_command():
    import json

    # given the Dockerfile
    instructions = _dockerfile_instructions()
    # then the base image, every COPY source exists, a non-root user runs it
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copied = [part for k, rest in instructions if k == "COPY" for part in rest.split()[:-1]]
    assert copied == ["pyproject.toml", "README.md", "src"]
    assert all((REPO / path).exists() for path in copied)
    assert ("USER", "tandem") in instructions
    # the build installs the project and collects the static files with the real command
    run = " ".join(rest for k, rest in instructions if k == "RUN")
    assert 'pip install ".[s3]"' in run
    # with extras that pyproject.toml declares (the s3 extra lets several nodes share uploads in a bucket)
    assert "s3 = [" in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert "tandem collectstatic --noinput" in run
    # and the container starts a real `tandem` command
    cmd = json.loads(dict(instructions)["CMD"])
    assert cmd == ["tandem", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
    assert _tandem_command_ok(cmd)


def test_systemd_units_start_real_commands():
    # given the two example units
    starts = {}
    for name in ("tandem-web.service", "tandem-worker.service"):
        for line in (REPO / "deploy" / name).read_text().splitlines():
            if line.startswith("ExecStart="):
                starts[name] = shlex.split(line.removeprefix("ExecStart="))
    # then each starts a real `tandem` command
    assert starts == {
        "tandem-web.service": [
            "/opt/tandem/venv/bin/tandem",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "8000",
            "--no-worker",
        ],
        "tandem-worker.service": ["/opt/tandem/venv/bin/tandem", "worker", "--threads", "2"],
    }
    assert all(_tandem_command_ok(argv) for argv in starts.values())
