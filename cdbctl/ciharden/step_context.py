"""What a step analysis works on and records: the job's context, the facts of one step (what it runs,
its reports, its candidates), its label and its shell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node

from cdbctl.ciharden.locate import mget, mstr, mval, sval
from cdbctl.ciharden.model import Candidate, Fix, Rule, Status
from cdbctl.ciharden.readers import FileReader

Path = tuple[str | int, ...]
_NON_POSIX_SHELLS = ("pwsh", "powershell", "python", "cmd", "node")


@dataclass
class StepInfo:
    """What one step runs and what is wrong with it."""

    index: int
    node: MappingNode
    path: Path
    label: str
    step_id: str | None
    tools: list[str]
    reports: set[str]
    publisher: bool
    has_if: bool
    has_coe: bool
    text: str  # the step's source text, for gate detection
    run_text: str  # run: script and github-script script:, for "does it fail the job"
    candidates: list[Candidate] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """Job-level facts a step analysis needs."""

    job: str | None
    default_shell: str | None
    windows: bool
    container: bool = False  # a job container may have no bash, so ``shell: bash`` is not a safe fix
    indent: int = 2  # the file's indentation step, for a ``with:`` block written in
    local_actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # see harden.Options
    read_file: FileReader | None = None  # see harden.Options
    input_defaults: Mapping[str, str] = field(default_factory=dict)  # of a reusable workflow
    env: Mapping[str, str] = field(default_factory=dict)  # the workflow's and job's env: (job wins)


def env_of(node: Node | None) -> dict[str, str]:
    """The scalar entries of a workflow's, job's or step's ``env:`` (an expression kept as written)."""
    env = mval(node, "env")
    if not isinstance(env, MappingNode):
        return {}
    pairs = ((sval(k), sval(v)) for k, v in env.value)
    return {k: v for k, v in pairs if k is not None and v is not None}


def label_of(node: MappingNode, index: int) -> str:
    """A human label for a step: its name, id, uses or first line of run."""
    for key in ("name", "id", "uses"):
        value = mstr(node, key)
        if value:
            return value if key == "name" else f"{key}: {value}"
    run = mstr(node, "run")
    if run:
        first = run.strip().splitlines()[0] if run.strip() else ""
        return "run: " + (first[:50] + "..." if len(first) > 50 else first)
    return f"step {index + 1}"


def shell_of(node: MappingNode, ctx: Context) -> str | None:
    """The step's effective ``shell:`` (step, then job/workflow defaults)."""
    pair = mget(node, "shell")
    return sval(pair[1]) if pair else ctx.default_shell


def posix_shell(node: MappingNode, ctx: Context) -> bool:
    """Does the step's ``run:`` go to sh/bash (not pwsh, cmd, python, node, or a Windows default)?"""
    shell = shell_of(node, ctx)
    return not (
        (shell and any(s in shell.lower() for s in _NON_POSIX_SHELLS)) or (shell is None and ctx.windows)
    )


def add_candidate(
    info: StepInfo,
    ctx: Context,
    rule: Rule,
    where: tuple[int, int],
    message: str,
    *,
    tool: str | None,
    fix: Fix | None,
    proposed_fix: str | None = None,
    status: Status | None = None,
) -> None:
    """A candidate at ``where`` (1-based line, column); ``proposed_fix`` says the change in words."""
    line, col = where
    info.candidates.append(
        Candidate(
            rule,
            line,
            ctx.job,
            info.label,
            message,
            tool,
            fix,
            step_index=info.index,
            col=col,
            proposed_fix=proposed_fix,
            status=status,
        )
    )


def node_at(node: Node) -> tuple[int, int]:
    """1-based (line, column) where a node starts."""
    return node.start_mark.line + 1, node.start_mark.column + 1
