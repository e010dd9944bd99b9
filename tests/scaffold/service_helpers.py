"""Render a service into a temporary repo and import its Flask app in isolation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

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
