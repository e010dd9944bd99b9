"""The wheel build hook: the compiled risk engine in the wheel where a C compiler is, pure Python where not."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def _wheel(tmp_path: Path, **env: str) -> tuple[Path, str]:
    """Build the project's wheel (no isolation: hatchling is a dev dependency) with only ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CC", "CDBCTL_PURE_PYTHON")}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(tmp_path), str(ROOT)],
        env=clean | env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = tmp_path.glob("cdbctl-*.whl")
    return wheel, proc.stdout + proc.stderr


def _native(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return [n for n in zf.namelist() if n.startswith("cdbctl/risk/_native")]


def test_the_wheel_carries_the_compiled_engine_for_this_python(tmp_path: Path) -> None:
    wheel, _ = _wheel(tmp_path)
    assert not wheel.name.endswith("-py3-none-any.whl")  # a platform wheel: the module is for this CPython
    (module,) = _native(wheel)
    assert module.endswith(".so") and f"cpython-{sys.version_info.major}{sys.version_info.minor}" in module


def test_without_a_compiler_the_wheel_is_pure_python_with_a_warning(tmp_path: Path) -> None:
    wheel, log = _wheel(tmp_path, CC="/nonexistent/cc")
    assert wheel.name.endswith("-py3-none-any.whl") and _native(wheel) == []
    assert "cdbctl: no C compiler (/nonexistent/cc): the risk engine is pure Python" in log


def test_pure_python_on_request(tmp_path: Path) -> None:
    wheel, _ = _wheel(tmp_path, CDBCTL_PURE_PYTHON="1")
    assert wheel.name.endswith("-py3-none-any.whl") and _native(wheel) == []


def test_a_failing_compiler_leaves_a_pure_python_wheel_with_its_error(tmp_path: Path) -> None:
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\necho 'cc: error: no such thing' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    wheel, log = _wheel(out, CC=str(fake))
    assert wheel.name.endswith("-py3-none-any.whl") and _native(wheel) == []
    assert (
        "compiling the risk engine failed, it stays pure Python" in log and "cc: error: no such thing" in log
    )
