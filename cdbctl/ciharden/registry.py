"""The scanner registry's lookups: which scanner an action, an image or a command runs, built once
from the entries in cdbctl/ciharden/scanners.py, plus the vocabulary shared by every scanner (wrappers,
output flags and inputs, result publishers) and the keyword prefilter.
"""

from __future__ import annotations

import posixpath
from fnmatch import fnmatchcase

from cdbctl.ciharden.model import Command, Tool
from cdbctl.ciharden.scanners import TOOLS

# Later steps that publish scan results; they get ``if: ${{ !cancelled() }}`` once a scan blocks.
PUBLISHERS: tuple[str, ...] = (
    "github/codeql-action/upload-sarif",
    "actions/upload-artifact",
    "veracode/veracode-pipeline-scan-results-to-sarif",  # a converter the SARIF upload needs
)

# Wrappers in front of a command: ``sudo bandit``, ``python -m bandit``, ``uvx bandit``, ...
SIMPLE_WRAPPERS = frozenset(
    {
        "sudo",
        "env",
        "time",
        "nice",
        "nohup",
        "command",
        "exec",
        "timeout",
        "xargs",
        "uvx",
        "npx",
        "bunx",
        "pipx",
    }
)
RUN_WRAPPERS = {
    ("poetry", "run"),
    ("pdm", "run"),
    ("pipenv", "run"),
    ("hatch", "run"),
    ("uv", "run"),
    ("pipx", "run"),
    ("bundle", "exec"),
    ("pnpm", "exec"),
    ("pnpm", "dlx"),
    ("yarn", "dlx"),
    ("npm", "exec"),
    ("go", "run"),
    ("rye", "run"),
    ("tox", "exec"),
}
NOT_A_SCAN = frozenset({"--version", "-V", "--help", "-h", "version", "help", "--download-db-only"})
OUTPUT_FLAGS = (
    "-o",
    "--output",
    "--output-file",
    "--out",
    "-out",
    "--sarif-file",
    "--json-file",
    "--report",
    "--report-path",
    "--output-file-path",
    "--sarif-output",
    "--json-output",
)
OUTPUT_INPUTS = ("output", "output-file", "output_file", "sarif_file", "sarif-file", "report", "output-path")
ARGS_INPUTS = ("scan-args", "args", "extra_args", "extra-args", "cli-args", "options")

_COMMANDS: dict[str, list[tuple[Tool, Command]]] = {}
for _tool in TOOLS:
    for _cmd in _tool.commands:
        _COMMANDS.setdefault(_cmd.name, []).append((_tool, _cmd))

KEYWORDS: tuple[str, ...] = tuple(sorted({c for c in _COMMANDS} | {"continue-on-error", "cdbctl:"}))
_ACTION_PREFIXES = tuple(sorted({p.split("/")[0] + "/" for t in TOOLS for p in t.actions}))
# Plain substring tests beat one big alternation regex by ~5x on typical files.
# ``eval "$X"``, ``bash -c "$X"``, ``"${X[@]}"``: what they run may be a scanner named only in a
# variable set outside the file
_HELD = ("eval", 'c "$', "c $", "[@]", "[*]")
_PREFILTER_WORDS = tuple(sorted({k.lower() for k in (*KEYWORDS, *_ACTION_PREFIXES, *_HELD)}))


def action_ref(uses: str) -> str:
    """``owner/repo/path@ref`` -> lower-case ``owner/repo/path`` (no ref)."""
    return uses.split("@", 1)[0].strip().lower().rstrip("/")


_EXACT_ACTIONS = {p: t for t in reversed(TOOLS) for p in t.actions if not any(c in p for c in "*?[")}
_GLOB_ACTIONS = [(p, t) for t in TOOLS for p in t.actions if any(c in p for c in "*?[")]


def tool_for_action(uses: str) -> Tool | None:
    """The scanner a ``uses:`` value runs, if any."""
    ref = action_ref(uses)
    exact = _EXACT_ACTIONS.get(ref)
    if exact is not None:
        return exact
    return next((t for p, t in _GLOB_ACTIONS if fnmatchcase(ref, p)), None)


def tool_for_image(uses: str) -> Tool | None:
    """The scanner a ``uses: docker://image[:tag|@digest]`` step runs (by the image's name), if any."""
    ref = uses.strip()
    if not ref.lower().startswith("docker://"):
        return None
    name = posixpath.basename(ref[len("docker://") :].split("@", 1)[0]).split(":", 1)[0].lower()
    found = _COMMANDS.get(name)
    return found[0][0] if found else None


def is_publisher(uses: str) -> bool:
    """True for actions that publish scan results (SARIF upload, artifacts)."""
    ref = action_ref(uses)
    return any(ref == p or ref.startswith(p + "/") for p in PUBLISHERS)


def tools_for_command(name: str) -> list[tuple[Tool, Command]]:
    """Registry entries whose executable is ``name`` (a basename)."""
    return _COMMANDS.get(name, [])


_COMMAND_WORDS = tuple(sorted(_COMMANDS))


def may_run_scanner(script: str) -> bool:
    """Cheap first pass for a run: script: does any scanner's executable name occur in it at all?"""
    return any(word in script for word in _COMMAND_WORDS)


def all_keywords_present(text: str) -> bool:
    """Cheap first pass: could this file contain anything ci-harden reports?"""
    low = text.lower()
    return any(word in low for word in _PREFILTER_WORDS)
