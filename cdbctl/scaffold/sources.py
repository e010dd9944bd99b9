"""Load what scaffold renders from: the shipped templates, the compose fragment and the risk engine."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cdbctl import __version__
from cdbctl.errors import InternalError
from cdbctl.scaffold.engine_wheel import EngineWheel, build_wheel, engine_files
from cdbctl.scaffold.plan import Sources


def load_templates(root: Path) -> dict[str, str]:
    """Every template file under root by POSIX relative path (README.md excluded)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel != "README.md" and "__pycache__" not in path.parts:
            out[rel] = path.read_text(encoding="utf-8")
    return out


def load_package(package_dir: Path) -> dict[str, bytes]:
    """Every Python source of the installed cdbctl package by path (cdbctl/...)."""
    return {
        f"cdbctl/{path.relative_to(package_dir).as_posix()}": path.read_bytes()
        for path in sorted(package_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def load_engine(package_dir: Path) -> EngineWheel:
    """The risk engine wheel: cdbctl/risk and the cdbctl modules it imports."""
    return build_wheel(engine_files(load_package(package_dir)), __version__)


@cache  # read once per process: the installed templates do not change while it runs
def load_sources(templates_dir: Path, compose_dir: Path, package_dir: Path) -> Sources:
    """Read every source scaffold needs; a missing one is a broken installation."""
    try:
        return Sources(
            templates=load_templates(templates_dir),
            engine=load_engine(package_dir),
            compose_fragment=(compose_dir / "service.yaml.j2").read_text(encoding="utf-8"),
            reference_compose=(compose_dir / "docker-compose.yml").read_bytes(),
            version=__version__,
            earlier_fragments={
                path.name.removeprefix("service-").removesuffix(".yaml.j2"): path.read_text(encoding="utf-8")
                for path in sorted((compose_dir / "history").glob("service-*.yaml.j2"))
            },
        )
    except OSError as exc:
        raise InternalError(f"cdbctl installation is incomplete: {exc}") from None
