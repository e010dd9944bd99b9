"""The process entry point and the one place that maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from typing import Any

from cdbctl.errors import CdbctlError, EnvironmentProblem, ExitCode
from cdbctl.sanitize import clean

# Nothing heavy at import: the console script and `python -m cdbctl` import this module before any
# handler of ours runs, so a Ctrl-C while Typer loads (_dispatch imports it) must find us ready.


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
        import typer  # the heavy imports: a Ctrl-C during them is an interruption like any later one
        import typer.main

        from cdbctl.app import build_app, plain_metavars
    except KeyboardInterrupt:
        return _interrupted()
    try:
        command = typer.main.get_command(build_app())
        plain_metavars(command)
        rv = command.main(args=args, prog_name="cdbctl", standalone_mode=False)
    except CdbctlError as err:
        if debug:
            raise
        _report(err)
        return int(err.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
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
        return _interrupted()
    return rv if isinstance(rv, int) else int(ExitCode.OK)


def _interrupted() -> int:
    sys.stderr.write("cdbctl: interrupted\n")
    return int(ExitCode.INTERRUPTED)


def run() -> None:
    """Console-script entry point."""
    code = main()
    # Everything is written and cleaned up: a Ctrl-C during interpreter shutdown (flushing, atexit) now
    # ends the process the default way instead of printing a KeyboardInterrupt traceback.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise SystemExit(code)
