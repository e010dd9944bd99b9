"""Render a service into a temporary repo and import its Flask app in isolation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from prometheus_client.parser import text_string_to_metric_families

from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import run_scaffold
from cdbctl.scaffold.spec import build_specs


def scaffold_repo(root: Path, sources: Sources, services: list[str] | None = None) -> Path:
    """Scaffold the given services into root (created) and return root."""
    root.mkdir(parents=True, exist_ok=True)
    result = run_scaffold(
        RepoFS(root), build_specs(services or []), sources, compose=None, write=True, force=False
    )
    assert result.written
    return root


@contextmanager
def service_app(service_dir: Path, extra_path: Path | None = None) -> Iterator[ModuleType]:
    """Import <service_dir>/app/main.py as `app.main`, then forget it (each service has its own `app`)."""
    saved_path = list(sys.path)
    dropped = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "app" or k.startswith("app.")}
    dropped |= {
        k: sys.modules.pop(k) for k in list(sys.modules) if k == "services" or k.startswith("services.")
    }
    sys.path.insert(0, str(service_dir))
    if extra_path is not None:
        sys.path.insert(0, str(extra_path))
    try:
        import app.main as main_module

        yield main_module
    finally:
        for k in [k for k in sys.modules if k in {"app", "services"} or k.startswith(("app.", "services."))]:
            del sys.modules[k]
        sys.modules.update(dropped)
        sys.path[:] = saved_path


@contextmanager
def gunicorn_service(service_dir: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """Run the generated service under gunicorn on 127.0.0.1, as its image does; yield (base URL, log)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log_path = service_dir.parent / f"gunicorn-{port}.log"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "PYTHONPATH": str(service_dir),
        **(env or {}),
    }
    with log_path.open("w+b") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(service_dir / "gunicorn.conf.py"), "app.main:app"],
            cwd=service_dir, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not come up: {log_path.read_text(errors='replace')}")
                time.sleep(0.1)
            yield base, log_path
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total
