"""/readyz while PostgreSQL goes away and comes back, in one running process: 503 naming the database, then 200
again without a restart. The database is the real server behind a TCP relay on a free port that the test
closes (every connection cut, the port refusing) and opens again; Redis's case is in test_operations.py."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.cluster_helpers import database_url, node_env
from tests.redis_helpers import free_port


class TcpRelay:
    """Listens on a port and pipes each connection to a target; `stop` cuts them all and closes the port."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target, self.port = target, port
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave the port bound.
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets = []


# A running Tandem process that answers one /readyz per line it reads, as a web node would between requests.
PROBE = """
import json, sys
from django.test import Client
for _ in sys.stdin:
    r = Client(HTTP_HOST="localhost").get("/readyz")
    print(json.dumps({"status": r.status_code, "body": r.json()}), flush=True)
"""


@pytest.fixture
def relay() -> Iterator[TcpRelay]:
    if connection.vendor != "postgresql":
        pytest.skip("this is the SQLite run: the PostgreSQL run cuts and restores its server")
    s = connection.settings_dict
    relay = TcpRelay((s.get("HOST") or "127.0.0.1", int(s.get("PORT") or 5432)), free_port())
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


@pytest.mark.postgres
@pytest.mark.django_db
def test_readyz_fails_while_postgresql_is_away_and_recovers_without_a_restart(relay, tmp_path: Path):
    # given a running Tandem process whose database (this test's, migrated) is reached through the relay
    url = database_url().replace(
        f"@{connection.settings_dict.get('HOST') or '127.0.0.1'}:{connection.settings_dict.get('PORT') or 5432}/",
        f"@127.0.0.1:{relay.port}/",
    )
    assert f":{relay.port}/" in url
    process = subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup()\n" + PROBE],
        env=node_env(tmp_path / "var", TANDEM_DATABASE_URL=url),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None

    def probe() -> dict:  # type: ignore[type-arg]
        process.stdin.write("probe\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        return json.loads(process.stdout.readline())  # type: ignore[union-attr]

    try:
        # when it is probed with the database there
        up = probe()
        # and again once the database went away (connections cut, the port refusing)
        relay.stop()
        down = probe()
        # and again once the database is back on the same port
        relay.start()
        back = probe()
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    # then ready, then 503 naming the database (migrations not tried), then ready again with no restart
    assert up["status"] == 200, up
    checks = {c["name"]: c for c in down["body"]["checks"]}
    assert down["status"] == 503
    assert checks["database"]["ok"] is False
    assert checks["database"]["error"].startswith("OperationalError: ")
    assert checks["migrations"]["error"] == "skipped: the database does not answer"
    assert back["status"] == 200, back
    assert [c["ok"] for c in back["body"]["checks"]] == [True, True, True]
