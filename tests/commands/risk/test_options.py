"""The risk commands' options, defined once: the same names and help in every subcommand, --help fast."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main

from cdbctl.app import build_app
from tests.risk.helpers import ROOT, cli

pytestmark = pytest.mark.unit

SHARED = {
    "evaluate": ["--state", "--market", "--config", "--set", "--now", "--instruments", "--format"],
    "explain": ["--state", "--market", "--config", "--set", "--now", "--instruments", "--format"],
    "config": ["--config", "--set", "--format"],
}


def test_help(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "--help")
    assert r.code == 0 and "evaluate" in r.out and "config" in r.out and "explain" in r.out
    assert "K1" not in r.out  # the blocker's number is history, not what the command does
    r = cli(capsys, monkeypatch, "risk", "evaluate", "--help")
    for opt in (*SHARED["evaluate"], "--trace", "--stateful", "Exit codes"):
        assert opt in r.out


def test_an_option_means_the_same_in_every_risk_command() -> None:
    group = typer.main.get_command(build_app()).commands["risk"]  # type: ignore[attr-defined]
    seen: dict[str, tuple[str | None, str | None]] = {}
    for name, opts in SHARED.items():
        params = {p.opts[0]: p for p in group.commands[name].params if p.opts}
        assert set(opts) <= set(params), name
        for opt in opts:
            param = params[opt]
            shown = (param.help, param.metavar)
            assert seen.setdefault(opt, shown) == shown, (name, opt)


def test_help_imports_no_engine_and_no_heavy_library() -> None:
    """`cdbctl --help` and the risk commands' help stay fast: the engine and parsers load only to run."""
    code = (
        "import json, sys\n"
        "from cdbctl.cli import main\n"
        "for argv in (['--help'], ['risk', '--help'], ['risk', 'evaluate', '--help'],"
        " ['risk', 'explain', '--help'], ['risk', 'config', '--help']):\n"
        "    assert main(argv) == 0, argv\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(proc.stderr.splitlines()[-1])
    heavy = ("cdbctl.risk", "msgspec", "yaml", "docker", "ruamel", "jinja2", "psycopg", "tomllib")
    assert [m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy)] == []
