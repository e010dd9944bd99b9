"""The risk engine wheel: only the engine, the same bytes from the same sources, installable by hash."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from cdbctl import __version__
from cdbctl.scaffold.engine_wheel import build_wheel, engine_files
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import package_dir
from cdbctl.scaffold.sources import load_engine, load_package
from tests.scaffold.service_helpers import scaffold_repo


@pytest.mark.unit
def test_same_sources_give_the_same_bytes_wherever_they_lie(tmp_path: Path) -> None:
    first = load_engine(package_dir())
    # A copy elsewhere, with other timestamps and modes, as another machine's installation would be.
    copy = tmp_path / "site-packages" / "cdbctl"
    shutil.copytree(package_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.rglob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o600)
    again = load_engine(copy)
    assert again.data == first.data and again.sha256 == first.sha256
    assert again.filename == first.filename == f"cdbctl_risk-{__version__}-py3-none-any.whl"


# The Python versions cdbctl supports (Requires-Python >= 3.11); each must build the same wheel.
PYTHONS = ("3.11", "3.12", "3.13")
_BUILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])  # this checkout's cdbctl, whatever the interpreter has installed
from cdbctl.scaffold.sources import load_engine
sys.stdout.buffer.write(load_engine(Path(sys.argv[2])).data)
"""


def _interpreter(minor: str) -> str | None:
    """An interpreter of that version that runs: a pyenv build (PYENV_ROOT, default ~/.pyenv), else
    python<minor> on PATH (a pyenv shim of a version that is not selected fails, and is passed over)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    builds = sorted(
        root.glob(f"{minor}.*/bin/python"), key=lambda p: [int(x) for x in p.parts[-3].split(".")]
    )
    on_path = shutil.which(f"python{minor}")
    want = str(tuple(int(x) for x in minor.split(".")))
    for candidate in [*reversed([str(b) for b in builds]), *([on_path] if on_path else [])]:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(tuple(sys.version_info[:2]))"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == want:
            return candidate
    return None


@pytest.mark.integration
@pytest.mark.parametrize("minor", PYTHONS)
def test_every_supported_python_builds_the_same_bytes(minor: str) -> None:
    """zipfile, ast and hashlib of another Python must not change a byte (requirements.txt pins the hash)."""
    python = _interpreter(minor)
    if python is None:
        pytest.skip(
            f"Python {minor} is not installed (none in ~/.pyenv/versions, no working python{minor} on PATH); "
            "CI may have only one Python"
        )
    root = Path(__file__).resolve().parents[2]
    built = subprocess.run(
        [python, "-I", "-c", _BUILD, str(root), str(package_dir())],
        capture_output=True, timeout=120, check=False, env={"PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr.decode(errors="replace")
    here = load_engine(package_dir())
    assert hashlib.sha256(built.stdout).hexdigest() == here.sha256, f"Python {minor} built other bytes"
    assert built.stdout == here.data


@pytest.mark.unit
def test_wheel_holds_the_engine_package_and_only_what_it_imports() -> None:
    package = load_package(package_dir())
    files = engine_files(package)
    risk = {p for p in package if p.startswith("cdbctl/risk/")}
    assert set(files) == risk | {"cdbctl/__init__.py", "cdbctl/errors.py"}
    assert not any(p.startswith(("cdbctl/scaffold/", "cdbctl/commands/", "cdbctl/verify/")) for p in files)


@pytest.mark.unit
def test_closure_follows_lazy_and_relative_imports_and_nothing_else() -> None:
    package = {
        "cdbctl/__init__.py": b"",
        "cdbctl/errors.py": b"",
        "cdbctl/output.py": b"import rich\n",
        "cdbctl/util/__init__.py": b"",
        "cdbctl/util/clock.py": b"",
        "cdbctl/risk/__init__.py": b"from .engine import run\n",
        "cdbctl/risk/engine.py": b"def run():\n    from cdbctl.util import clock\n    from .. import errors\n",
    }
    assert sorted(engine_files(package)) == [
        "cdbctl/__init__.py", "cdbctl/errors.py", "cdbctl/risk/__init__.py", "cdbctl/risk/engine.py",
        "cdbctl/util/__init__.py", "cdbctl/util/clock.py",
    ]  # fmt: skip


@pytest.mark.unit
def test_wheel_is_a_valid_wheel_with_fixed_metadata() -> None:
    wheel = build_wheel({"cdbctl/__init__.py": b"x = 1\n", "cdbctl/risk/__init__.py": b""}, "9.9.9")
    assert wheel.filename == "cdbctl_risk-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(BytesIO(wheel.data)) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            "cdbctl/__init__.py", "cdbctl/risk/__init__.py", "cdbctl_risk-9.9.9.dist-info/METADATA",
            "cdbctl_risk-9.9.9.dist-info/WHEEL", "cdbctl_risk-9.9.9.dist-info/RECORD",
        ]  # fmt: skip
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        record = zf.read("cdbctl_risk-9.9.9.dist-info/RECORD").decode().splitlines()
        for line in record[:-1]:
            name, digest, size = line.split(",")
            data = zf.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)
        assert record[-1] == "cdbctl_risk-9.9.9.dist-info/RECORD,,"
        wheel_meta = zf.read("cdbctl_risk-9.9.9.dist-info/WHEEL").decode()
        assert "Tag: py3-none-any" in wheel_meta and "Root-Is-Purelib: true" in wheel_meta


@pytest.mark.integration
def test_pip_installs_the_generated_wheel_by_its_hash(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, sources: Sources
) -> None:
    service = (
        scaffold_repo(tmp_path_factory.mktemp("wheel") / "cdb", sources) / "backoffice/services/cdb_risk"
    )
    lines = (service / "requirements.txt").read_text().replace("\\\n", " ").splitlines()
    (wheel_line,) = [line for line in lines if ".whl" in line]
    (service / "engine.txt").write_text(wheel_line + "\n")
    target = tmp_path / "target"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    pip = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--require-hashes"]
    proc = subprocess.run([*pip, "--target", str(target), "-r", "engine.txt"],
                          cwd=service, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = sorted(p.relative_to(target).as_posix() for p in (target / "cdbctl").rglob("*.py"))
    assert "cdbctl/risk/__init__.py" in installed and "cdbctl/scaffold/plan.py" not in installed
    code = "import cdbctl.risk, sys; print(cdbctl.risk.__file__); print(sorted(cdbctl.risk.effective_config({}))[0])"
    run = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(str(target))
    # A wheel that is not the one the hash names is refused.
    wheel = service / wheel_line.split()[0]
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    proc = subprocess.run([*pip, "--target", str(tmp_path / "again"), "-r", "engine.txt"],
                          cwd=service, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "HASHES" in proc.stderr.upper()
