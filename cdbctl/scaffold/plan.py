"""Pure planning: service specs + template sources -> the files scaffold generates."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cdbctl.errors import InternalError
from cdbctl.scaffold.compose_patch import BuildTarget, Dependency
from cdbctl.scaffold.conventions import Conventions
from cdbctl.scaffold.engine_wheel import EngineWheel
from cdbctl.scaffold.spec import ServiceSpec

if TYPE_CHECKING:
    from jinja2 import Environment

SERVICES_ROOT = "backoffice/services"
MANAGED = "managed"  # regenerated when unchanged since generation
CREATE_ONLY = "create_only"  # written only when absent (a user's own file wins)
_ROOT_FILES = {"dockerignore": ".dockerignore"}
# Generated only for a service that evaluates signals (app/body.py reads /evaluate's request body).
_RISK_ONLY = frozenset({"app/body.py"})


@dataclass(frozen=True, repr=False)
class Sources:
    """Everything rendering needs, loaded by the caller: templates, the engine wheel, compose fragment."""

    templates: Mapping[str, str]  # template-relative path -> text
    engine: EngineWheel  # the risk engine, for the services that evaluate signals
    compose_fragment: str
    reference_compose: bytes
    version: str  # cdbctl version
    # The compose fragment as earlier cdbctl versions shipped it (version -> text): a block one of them
    # rendered is recognised as scaffold's own and brought up to date.
    earlier_fragments: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Sources({len(self.templates)} templates, {self.engine!r}, {self.fingerprint})"

    @property
    def fingerprint(self) -> str:
        """A short hash of every template and the engine wheel (the template version)."""
        h = hashlib.sha256()
        for name in sorted(self.templates):
            h.update(name.encode() + b"\0" + self.templates[name].encode() + b"\0")
        h.update(self.engine.filename.encode() + b"\0" + self.engine.sha256.encode() + b"\0")
        h.update(self.compose_fragment.encode())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class PlannedFile:
    """One file scaffold wants in the repository."""

    path: str  # repo-relative POSIX path
    data: bytes
    mode: int
    policy: str
    service: str | None
    binary: bool = False  # not text: never diffed or merged line by line


def _env() -> Environment:
    import jinja2

    # Templates render code and config, not HTML: autoescape would corrupt them.
    return jinja2.Environment(  # nosec B701
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
    )


def _render(env: Environment, text: str, ctx: Mapping[str, Any], name: str) -> str:
    import jinja2

    try:
        return env.from_string(text).render(**ctx)
    except jinja2.TemplateError as exc:
        raise InternalError(f"template {name} failed to render: {exc}") from None


def service_dir(name: str) -> str:
    """The repo-relative directory of a scaffolded service."""
    return f"{SERVICES_ROOT}/{name}"


def plan_files(
    specs: Sequence[ServiceSpec], sources: Sources, *, has_shared_services: bool
) -> list[PlannedFile]:
    """Every file to generate, in a stable order."""
    env = _env()
    out: list[PlannedFile] = []
    for spec in specs:
        base = service_dir(spec.name)
        ctx = {
            "name": spec.name,
            "port": spec.port,
            "serves_risk": spec.serves_risk,
            "version": sources.version,
            "has_shared_services": has_shared_services,
            # Only a service that evaluates signals gets the engine (see docs/scaffold.md).
            "engine": sources.engine if spec.serves_risk else None,
        }
        for rel in sorted(sources.templates):
            if not rel.startswith("service/"):
                continue
            target = rel.removeprefix("service/").removesuffix(".j2")
            if target in _RISK_ONLY and not spec.serves_risk:
                continue
            text = (
                _render(env, sources.templates[rel], ctx, rel)
                if rel.endswith(".j2")
                else sources.templates[rel]
            )
            mode = 0o755 if target == "healthcheck.py" else 0o644
            out.append(PlannedFile(f"{base}/{target}", text.encode(), mode, MANAGED, spec.name))
        if spec.serves_risk:
            wheel = sources.engine
            out.append(
                PlannedFile(f"{base}/{wheel.filename}", wheel.data, 0o644, MANAGED, spec.name, binary=True)
            )
    for rel, target in _ROOT_FILES.items():
        key = f"root/{rel}.j2"
        if key in sources.templates:
            text = _render(env, sources.templates[key], {"version": sources.version}, key)
            out.append(PlannedFile(target, text.encode(), 0o644, CREATE_ONLY, None))
    return out


def render_service_block(
    sources: Sources,
    target: BuildTarget,
    deps: Sequence[Dependency],
    indent: int,
    step: int,
    *,
    conv: Conventions | None = None,
) -> str:
    """A compose service entry from the reference fragment, following the file's conventions and style."""
    by_kind = {d.kind: d for d in deps}
    text = _render(
        _env(),
        sources.compose_fragment,
        {
            "name": target.name,
            "port": target.port,
            "context": target.context,
            "dockerfile": target.dockerfile,
            "redis": by_kind.get("redis"),
            "postgres": by_kind.get("postgres"),
            "conv": conv if conv is not None else Conventions(),
        },
        "compose fragment",
    )
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        level = (len(line) - len(stripped)) // 2  # the fragment uses 2 spaces per level, service at 1
        lines.append(" " * (indent + (level - 1) * step) + stripped if stripped else "")
    return "\n".join(lines) + "\n"
