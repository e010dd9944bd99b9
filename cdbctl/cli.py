"""The cdbctl Typer application and the one place that maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from cdbctl import __version__
from cdbctl.errors import CdbctlError, EnvironmentProblem, ExitCode
from cdbctl.help_layout import fit_help
from cdbctl.sanitize import clean

HELP = f"""cdbctl {__version__}: operations CLI for the Claire de Binare (CDB) back office.

\b
Examples:
  cdbctl risk evaluate examples/signal.json --now 2026-01-01T12:00:05Z
  cdbctl risk evaluate signals.jsonl --format jsonl --stateful
  cdbctl scaffold --repo path/to/cdb --dry-run
  cdbctl ci-harden --repo path/to/cdb --check
  cdbctl verify --compose docker-compose.yml --wait

\b
Exit codes:
  0  success: approved, healthy, nothing to change
  1  negative result: a signal rejected, the stack unhealthy, --check found drift (ci-harden: or a
     workflow it could not check, such as one with merge-conflict markers)
  2  usage or input error: bad flag, missing file, malformed JSON/YAML, invalid record
  3  environment error: Docker unreachable, permission denied, unsafe edit
  4  internal error (a bug; rerun with CDBCTL_DEBUG=1 for a traceback)
  130 interrupted
  141 stdout closed early by its reader (broken pipe, as for SIGPIPE)
"""


def _version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"cdbctl {__version__}\n")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    """Build the Typer app with every command registered."""
    app = typer.Typer(
        name="cdbctl",
        help=HELP,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version."),
        ] = False,
    ) -> None:
        """cdbctl: operations CLI for the CDB back office."""

    from cdbctl.commands import ciharden, risk, scaffold, verify

    for module in (risk, scaffold, ciharden, verify):
        module.register(app)
    return app


def _help_width() -> int:
    """Columns the help body gets: the terminal's (COLUMNS honoured) less Rich's padding."""
    import shutil

    return max(40, shutil.get_terminal_size((80, 24)).columns - 4)


def _plain_metavars(command: Any) -> None:
    """Show values the way people write them (PATH, table|json), never Python types (<bool>, <list[str]>)."""
    from typer._click import Context

    if getattr(command, "help", None):
        command.help = fit_help(command.help, _help_width())
    help_option = command.get_help_option(Context(command, help_option_names=["-h", "--help"]))
    if help_option is not None:
        help_option.metavar = ""
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            # The usage line already shows the argument's name; a type column would add "<list[str]>".
            param.display_type_rich = lambda ctx: None
        desc = getattr(param, "type_descriptor", None)
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is not None:
            if param.metavar.startswith("[") and param.metavar.endswith("...]"):
                param.metavar = param.metavar[1:-5].strip()  # click adds the brackets and the dots itself
        elif desc is not None and desc.is_choice:
            param.metavar = "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
        elif desc is not None and desc.is_path:
            param.metavar = "PATH"
        elif param.name:
            param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)


def _report_usage(exc: Any, args: list[str]) -> None:
    """Typer's usage errors as one line in cdbctl's own format, with a hint where to look."""
    message = clean(" ".join(str(exc.format_message()).split()).replace("Value error, ", ""))
    sys.stderr.write(f"cdbctl: error: {message}\n")
    ctx = getattr(exc, "ctx", None)
    param = getattr(exc, "param", None)
    if param is not None and getattr(param, "name", "") == "fmt" and "-f" in args:
        # `-f docker-compose.yml`, as for docker compose: here -f is the format
        sys.stderr.write("hint: -f is --format in every cdbctl command; a compose file is -c/--compose\n")
    elif ctx is not None:
        sys.stderr.write(f"hint: see '{ctx.command_path} --help'\n")


def _report(err: CdbctlError) -> None:
    # Messages quote input (a URL, a file's line, a server's words): the one sanitising choke point
    # for errors, so no password or terminal escape reaches stderr, whichever command raised.
    sys.stderr.write(f"cdbctl: error: {clean(str(err))}\n")
    if err.hint:
        sys.stderr.write(f"hint: {clean(err.hint)}\n")


def _silence_stdout() -> None:
    # The reader went away (e.g. `| head`): make the interpreter's final flush a no-op.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except OSError:
        pass


def _flush_stdout() -> bool:
    """Flush buffered data now, so a reader that went away is seen here (141), not at exit (120)."""
    if sys.stdout is None:  # started with stdout closed (``>&-``): nothing to flush
        return True
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return False
    except OSError:  # full: the command's own handling reported it; drop what is left, quietly
        _silence_stdout()
    except ValueError:  # closed: likewise
        pass
    return True


def _buffered_stdout() -> None:
    """Give an unbuffered stdout (PYTHONUNBUFFERED=1, python -u) a buffer that never drops bytes.

    Unbuffered, sys.stdout writes through to the raw file, whose short write (a pipe whose reader went
    away mid-write) TextIOWrapper does not retry: the rest of a table is lost and no error is raised.
    A BufferedWriter writes every byte or raises; line buffering keeps output as prompt as before.
    """
    import io

    stream = sys.stdout
    if stream is None or stream is not sys.__stdout__:
        return
    raw = getattr(stream, "buffer", None)
    if not isinstance(raw, io.FileIO):
        return
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=sys.__stdout__.encoding if sys.__stdout__ else "utf-8",
        errors=sys.__stdout__.errors if sys.__stdout__ else "strict",
        line_buffering=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run cdbctl with argv and return the process exit code; never raises."""
    _buffered_stdout()
    code = _dispatch(argv)
    if code != ExitCode.BROKEN_PIPE and not _flush_stdout():
        return int(ExitCode.BROKEN_PIPE)
    return code


def _dispatch(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = os.environ.get("CDBCTL_DEBUG") == "1"
    if sys.stdout is None and not {"-h", "--help", "--version"} & set(args):
        # `>&-`: Python leaves sys.stdout None; every command's data would go nowhere.
        _report(EnvironmentProblem("stdout is closed", hint="open stdout, e.g. redirect it to a file"))
        return int(ExitCode.ENVIRONMENT)
    try:
        import typer.main

        command = typer.main.get_command(build_app())
        _plain_metavars(command)
        rv = command.main(args=args, prog_name="cdbctl", standalone_mode=False)
    except CdbctlError as err:
        if debug:
            raise
        _report(err)
        return int(err.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("cdbctl: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except SystemExit as exc:
        # Typer turns EPIPE into sys.exit(1) after wrapping stdout, Rich (tables, help) raises
        # SystemExit(1) while handling BrokenPipeError; 1 would read as "rejected" or "unhealthy".
        if type(sys.stdout).__name__ == "PacifyFlushWrapper" or isinstance(exc.__context__, BrokenPipeError):
            _silence_stdout()
            return int(ExitCode.BROKEN_PIPE)
        code = sys.exc_info()[1]
        # Shell completion answers and exits through sys.exit.
        return int(getattr(code, "code", 0) or 0)
    except OSError as exc:
        # A read or write the command could not complete (stdout on a full disk, a file it may not
        # read): the machine's problem, not a bug. Drop what is still buffered so the exit stays quiet.
        if debug:
            raise
        _silence_stdout()
        _report(EnvironmentProblem(exc.strerror or str(exc), where=exc.filename and str(exc.filename)))
        return int(ExitCode.ENVIRONMENT)
    except Exception as exc:
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            # Typer's (vendored click's) usage errors: bad flag, missing argument, unknown command.
            # They quote argv, which may carry a URL with a password: through the choke point too.
            _report_usage(exc, args)
            return int(ExitCode.USAGE)
        if debug:
            raise
        sys.stderr.write(f"cdbctl: error: internal error: {type(exc).__name__}: {clean(str(exc))}\n")
        sys.stderr.write("hint: rerun with CDBCTL_DEBUG=1 for a traceback and report it\n")
        return int(ExitCode.INTERNAL)
    if rv == ExitCode.INTERRUPTED:
        # Typer turns Ctrl-C into a plain return of 130 before the handlers above see it.
        sys.stderr.write("cdbctl: interrupted\n")
    return rv if isinstance(rv, int) else int(ExitCode.OK)


def run() -> None:
    """Console-script entry point."""
    code = main()
    # Everything is written and cleaned up: a Ctrl-C during interpreter shutdown (flushing, atexit) now
    # ends the process the default way instead of printing a KeyboardInterrupt traceback.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise SystemExit(code)
