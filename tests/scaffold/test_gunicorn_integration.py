"""A generated service really runs under gunicorn on 127.0.0.1 (as in the image, minus Docker)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdbctl.scaffold.plan import Sources
from tests.scaffold.service_helpers import gunicorn_service, scaffold_repo

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
    with gunicorn_service(service, {"GUNICORN_WORKERS": "2"}) as (base, log_path):
        yield base, service
    output = log_path.read_text(errors="replace")
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
