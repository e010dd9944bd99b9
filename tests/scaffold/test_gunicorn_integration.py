"""A generated service really runs under gunicorn on 127.0.0.1 (as in the image, minus Docker)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdbctl.scaffold.plan import Sources
from tests.scaffold.service_helpers import scaffold_repo

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with OPENER.open(urllib.request.Request(url, data=data), timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, sources: Sources) -> Iterator[tuple[str, Path]]:
    root = scaffold_repo(tmp_path_factory.mktemp("gunicorn") / "cdb", sources)
    service = root / "backoffice/services/cdb_risk"
    # The image layout: /app holds gunicorn.conf.py, healthcheck.py and app/.
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "PYTHONPATH": str(service),
        "GUNICORN_WORKERS": "2",
    }
    log = (tmp_path_factory.mktemp("log") / "gunicorn.log").open("w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(service / "gunicorn.conf.py"), "app.main:app"],
        cwd=service, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if _get(base + "/health")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"gunicorn did not come up: {log.read().decode(errors='replace')}")
        time.sleep(0.1)
    try:
        yield base, service
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        assert "Traceback" not in output, output
        shutil.rmtree(root, ignore_errors=True)


def test_health_under_gunicorn(running: tuple[str, Path]) -> None:
    base, _ = running
    status, body = _get(base + "/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "service": "cdb_risk"}


def test_evaluate_under_gunicorn(running: tuple[str, Path]) -> None:
    base, _ = running
    status, body = _get(base + "/evaluate?now=2026-01-01T12:00:05Z", (EXAMPLES / "signal.json").read_bytes())
    assert status == 200 and json.loads(body)["approved"] is True
    status, body = _get(base + "/evaluate", b"{not json")
    assert status == 400 and "malformed JSON" in json.loads(body)["error"]


def test_container_healthcheck_script_against_gunicorn(running: tuple[str, Path]) -> None:
    base, service = running
    port = base.rsplit(":", 1)[1]
    proc = subprocess.run([sys.executable, str(service / "healthcheck.py")], env={"PORT": port}, check=False)
    assert proc.returncode == 0
