"""The CLI shell: version, help, usage errors and the error-to-exit-code mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl import __version__
from cdbctl.app import build_app
from cdbctl.cli import main

pytestmark = pytest.mark.unit


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"cdbctl {__version__}"


def test_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("risk", "scaffold", "ci-harden", "verify", "Exit codes", "Examples"):
        assert word in out


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err == "cdbctl: error: No such command 'no-such-command'.\nhint: see 'cdbctl --help'\n"


def test_python_dash_m_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"cdbctl {__version__}"


def test_broken_pipe_exits_141_without_traceback(tmp_path: Path) -> None:
    signals = tmp_path / "many.jsonl"
    line = '{"symbol": "BTC_USDT", "side": "long", "price": 50000}\n'
    signals.write_text(line * 20000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(signals), "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, like `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert b'"symbol":"BTC_USDT"' in first
    assert "Traceback" not in err


def test_ctrl_c_exits_130_with_one_line() -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", "-", "--format", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b'{"symbol": "BTC_USDT", "side": "long", "price": 50000}\n')
    proc.stdin.flush()
    assert proc.stdout is not None
    proc.stdout.readline()  # the first decision: the command is running and waiting for more input
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    proc.stdin.close()
    assert proc.returncode == 130
    assert err.decode().strip().endswith("cdbctl: interrupted")
    assert "Traceback" not in err.decode()


def _commands() -> list[list[str]]:
    import typer.main

    root = typer.main.get_command(build_app())
    paths: list[list[str]] = [[]]

    def walk(cmd: object, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append([*path, name])
            walk(sub, [*path, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("columns", ["80", "120"])
def test_help_shows_no_python_types(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    for path in _commands():
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        for bad in ("<bool>", "<list", "<path>", "<float>", "<str>", "[[", "...]]"):
            assert bad not in out, (path, bad)


def test_one_meaning_per_short_option() -> None:
    import typer.main

    seen: dict[str, str] = {}

    def walk(cmd: object) -> None:
        for param in getattr(cmd, "params", ()):
            opts = list(getattr(param, "opts", ()))
            longs = [o for o in opts if o.startswith("--")]
            for short in (o for o in opts if not o.startswith("--")):
                if param.param_type_name == "option" and longs:
                    assert seen.setdefault(short, longs[0]) == longs[0], (short, longs[0], seen[short])
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(build_app()))
    assert seen["-f"] == "--format" and seen["-c"] == "--compose" and seen["-s"] == "--service"


def test_usage_error_is_one_line_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "-f", "docker-compose.yml"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("cdbctl: error: Invalid value for '--format' / '-f': 'docker-compose.yml'")
    assert "Value error" not in err[0]
    assert err[1] == "hint: -f is --format in every cdbctl command; a compose file is -c/--compose"
    assert len(err) == 2


def test_shell_completion_is_available() -> None:
    # The script `--install-completion` installs; asked for by name, so no parent shell is detected.
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "_CDBCTL_COMPLETE": "source_bash"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "complete" in proc.stdout and "_CDBCTL_COMPLETE" in proc.stdout


def test_completion_answers_subcommands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl"],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "_CDBCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": "cdbctl ver",
            "COMP_CWORD": "1",
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert "verify" in proc.stdout.split()


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_reader_gone_mid_table_is_141_buffered_or_not(tmp_path: Path, unbuffered: str) -> None:
    """With PYTHONUNBUFFERED=1 a short write of a big table used to drop the rest silently (exit 0)."""
    import json
    import os

    signals = tmp_path / "many.jsonl"
    line = {"symbol": "BTC_USDT", "side": "long", "price": 50000, "timestamp": "2026-01-01T12:00:00Z"}
    signals.write_text("".join(json.dumps(line | {"signal_id": f"s{i}"}) + "\n" for i in range(3000)))
    env = {k: v for k, v in os.environ.items() if k not in ("CDBCTL_DEBUG", "PYTHONUNBUFFERED")}
    env |= {"PYTHONUNBUFFERED": unbuffered} if unbuffered else {}
    args = [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(signals), "--format", "table",
            "--now", "2026-01-01T12:00:05Z"]  # fmt: skip
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(10)
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("columns", [80, 120])
def test_help_examples_wrap_as_whole_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    for path in _commands():
        assert main([*path, "--help"]) == 0, path
        lines = capsys.readouterr().out.splitlines()
        assert all(len(line) <= columns for line in lines), path
        for i, line in enumerate(lines[:-1]):
            text = line.strip()
            nxt = lines[i + 1]
            continued = nxt.startswith(line[: len(line) - len(line.lstrip())] + "    ") and nxt.strip()
            if text.startswith("cdbctl ") and continued and nxt.strip().startswith("-"):
                assert text.endswith("\\"), (path, columns, line, nxt)  # a break is a shell continuation


@pytest.mark.unit
def test_help_layout_keeps_an_option_with_its_value() -> None:
    from cdbctl.help_layout import fit_help

    text = (
        "Examples:\n\n\b\n  cdbctl verify --endpoint risk=http://127.0.0.1:8002/health --format json --wait"
    )
    fitted = fit_help(text, 70).split("\n")
    assert fitted[-2:] == [
        "  cdbctl verify --endpoint risk=http://127.0.0.1:8002/health \\",
        "      --format json --wait",
    ]
    prose = "\b\nLine one of prose\nthat continues here."
    assert fit_help(prose, 10) == "Line one of prose that continues here."


def test_ctrl_c_during_shutdown_ends_quietly_like_sigint() -> None:
    # A Ctrl-C after the output was written (here: from an atexit hook) printed a KeyboardInterrupt traceback.
    script = (
        "import atexit, os, signal, sys\n"
        "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))\n"
        "sys.argv = ['cdbctl', '--version']\n"
        "from cdbctl.cli import run\n"
        "run()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == f"cdbctl {__version__}"
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    assert proc.returncode == -2  # killed by SIGINT: a shell shows 130


# A stand-in for a slow `import typer` (a cold disk, a busy machine): the import announces itself on
# stderr and then waits, so the test can deliver a real Ctrl-C while cdbctl's entry point imports.
_SLOW_IMPORT = """\
import sys
import time


class SlowImport:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            sys.stderr.write("importing typer\\n")
            sys.stderr.flush()
            time.sleep(60)
        return None


sys.meta_path.insert(0, SlowImport())
"""


def _entry_points() -> list[list[str]]:
    """`python -m cdbctl` and the console script as pip writes it for pyproject's [project.scripts]."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    target = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["cdbctl"]
    module, _, func = target.partition(":")
    script = f"import sys\nfrom {module} import {func}\nsys.exit({func}())\n"
    return [[sys.executable, "-m", "cdbctl"], [sys.executable, "-c", script]]


@pytest.mark.parametrize("entry", _entry_points(), ids=["python -m cdbctl", "console script"])
def test_ctrl_c_during_the_start_up_imports_exits_130_with_one_line(entry: list[str], tmp_path: Path) -> None:
    import os
    import signal

    (tmp_path / "sitecustomize.py").write_text(_SLOW_IMPORT)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), root])}
    proc = subprocess.Popen(
        [*entry, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    )
    assert proc.stderr is not None
    try:
        assert proc.stderr.readline() == b"importing typer\n"  # cdbctl's entry point is importing typer
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, out, err.decode()) == (130, b"", "cdbctl: interrupted\n")
