"""stdout for the risk commands: every write checked, failures named instead of a traceback.

A reader that went away (EPIPE) propagates as BrokenPipeError, which cli.main maps to 141 as for
SIGPIPE; any other failure (a full disk, /dev/full, an I/O error) is an environment error (exit 3)
naming stdout; a closed stdout (`>&-`, where Python sets sys.stdout to None) is one before any work.
"""

from __future__ import annotations

import select
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

from cdbctl.errors import EnvironmentProblem

if TYPE_CHECKING:
    from rich.console import Console

_CLOSED_HINT = "open stdout, e.g. redirect it to a file with > out.json"


def _failed(err: OSError) -> EnvironmentProblem:
    return EnvironmentProblem(f"cannot write to stdout: {err.strerror or err}")


def require_stdout() -> None:
    """EnvironmentProblem (exit 3) when stdout is closed: there is nowhere to put the data."""
    if sys.stdout is None:
        raise EnvironmentProblem("stdout is closed", hint=_CLOSED_HINT)


def stdout_writer() -> Callable[[bytes], None]:
    """A writer of JSON bytes to stdout that writes every byte or raises (BrokenPipeError, exit 3)."""
    from cdbctl.risk.sink import write_all
    from cdbctl.sanitize import escape_json_bytes

    require_stdout()
    try:
        sys.stdout.flush()
        buffer = sys.stdout.buffer
        buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise _failed(err) from None
    raw = getattr(buffer, "raw", None)
    if raw is None:  # an in-memory stream (tests, embedding): its write takes every byte it is given
        target: Callable[[memoryview], int | None] = buffer.write
    else:
        # the descriptor itself, so each count returned is the kernel's and is checked
        def target(view: memoryview) -> int | None:
            n: int | None = raw.write(view)
            if n is None:  # non-blocking stdout and a full pipe: wait until the reader catches up
                select.select([], [raw], [])
                return 0
            return n

    def write(data: bytes) -> None:
        try:
            # JSON only comes through here: no raw DEL, C1 or bidi control from a signal's strings.
            write_all(target, escape_json_bytes(data))
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _failed(err) from None

    return write


@contextmanager
def stdout_errors() -> Iterator[None]:
    """Map an OSError while writing text to stdout (and its final flush) to exit 3 or 141."""
    require_stdout()
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise _failed(err) from None


def _broken_pipe() -> NoReturn:
    raise BrokenPipeError("stdout closed by its reader")


def table_console() -> Console:
    """The stdout console for tables; a broken pipe raises (exit 141) instead of Rich's exit 1."""
    from cdbctl.output import stdout_console

    console = stdout_console()
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    return console
