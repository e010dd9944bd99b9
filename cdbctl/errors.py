"""The one exception hierarchy of cdbctl and the exit codes it maps to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in README and ``cdbctl --help``."""

    OK = 0
    NEGATIVE = 1  # a signal rejected, the stack unhealthy, --check found drift or a file it could not check
    USAGE = 2  # bad flag, missing file, malformed JSON/YAML, invalid record
    ENVIRONMENT = 3  # Docker unreachable, permission denied, unsafe edit
    INTERNAL = 4  # a bug
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (e.g. `| head`)


class CdbctlError(Exception):
    """Base of every error cdbctl reports; carries its exit code, location and hint."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}, {self.where}" if self.where else self.message


class UsageError(CdbctlError):
    """Bad command-line usage (flag values, conflicting options)."""

    exit_code = ExitCode.USAGE


class InputError(CdbctlError):
    """Input data that cannot be used: missing file, malformed JSON/YAML, invalid record or key."""

    exit_code = ExitCode.USAGE


class ConfigError(InputError):
    """A configuration value that is not a number, out of range or unknown."""


class EnvironmentProblem(CdbctlError):
    """The environment prevents the work: Docker unreachable, permission denied, unsafe edit."""

    exit_code = ExitCode.ENVIRONMENT


class InternalError(CdbctlError):
    """A bug in cdbctl."""

    exit_code = ExitCode.INTERNAL
