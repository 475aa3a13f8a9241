"""gunicorn loads Tandem once, before forking: the workers start warm and each opens its own database connection."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tandem.core.gunicorn_conf import preload_app
from tandem.core.management.commands.serve import gunicorn_argv

START_SECONDS = 120  # a cold start on a shared 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    # The test database this test's rows are committed to, for the server's processes.
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return (
        f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


def _get(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        return answer.status, time.perf_counter() - start


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@pytest.mark.django_db(transaction=True)
def test_workers_fork_from_a_preloaded_warm_application():
    if not Path("/proc/self/task").exists():
        pytest.skip("reads the workers' memory maps from /proc (Linux)")
    # given gunicorn as `tandem serve` runs it (its config preloads the application), two workers, no worker
    assert preload_app is True
    port = _free_port()
    argv = gunicorn_argv(host="127.0.0.1", port=port, workers=2, timeout=120)
    env = {**os.environ, "TANDEM_DATABASE_URL": _database_url(), "TANDEM_SERVE_WORKER": "0"}
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "gunicorn did not answer in time"
                time.sleep(0.25)
        # when pages that read the database are requested, more times than there are workers
        answers = [_get(f"http://127.0.0.1:{port}/login/") for _ in range(6)]
        # then every request is answered (the workers did not share the parent's database connection)
        assert [status for status, _ in answers] == [200] * 6
        # and each worker had scipy and scikit-learn loaded before it served anything: they were in the parent
        # (the arbiter may still be forking the second one when the first has answered everything)
        deadline = time.monotonic() + 30
        while len(workers := _workers(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
        if len(workers) != 2:
            server.terminate()
            pytest.fail(
                f"workers {workers}; gunicorn said: {server.communicate(timeout=30)[1].decode()[-2000:]}"
            )
        for pid in workers:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "/scipy/" in maps and "/sklearn/" in maps
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr:
            server.stderr.close()


@pytest.mark.django_db(transaction=True)
def test_serve_with_a_log_file_keeps_the_terminal_to_the_address_and_logs_requests_in_the_file(tmp_path):
    # given `tandem serve --log-file` as `make demo` runs it (one worker, no background worker)
    port = _free_port()
    log = tmp_path / "logs" / "server.log"
    env = {**os.environ, "TANDEM_DATABASE_URL": _database_url(), "PYTHONUNBUFFERED": "1"}
    command = ["tandem", "serve", "--port", str(port), "--workers", "1", "--no-worker", "--log-file", str(log)]
    server = subprocess.Popen(
        [str(Path(os.sys.executable).parent / command[0]), *command[1:]],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not answer in time"
                time.sleep(0.25)
        # when a page is requested
        assert status == 200
        _get(f"http://127.0.0.1:{port}/login/")
    finally:
        server.terminate()
        terminal = server.communicate(timeout=30)[0].decode()
    # then the terminal holds the address and the log's path, and no request; the file holds the requests
    assert terminal.splitlines() == [
        f"Tandem on http://127.0.0.1:{port}/ with 1 gunicorn workers  (Ctrl+C stops)",
        f"Server log: {log}",
    ]
    written = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in written and '"GET /login/ HTTP/1.1" 200' in written
    assert "Booting worker" in written  # gunicorn's own log too


def test_serve_refuses_a_log_file_it_cannot_write(tmp_path):
    # given a path under a file, not a folder
    (tmp_path / "file").write_text("")
    # when / then the command stops before serving, naming the option and the path
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"--log-file \S*/file/x\.log: (File exists|Not a directory)"):
        call_command("serve", "--log-file", str(tmp_path / "file" / "x.log"))
