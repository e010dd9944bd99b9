"""`cdbctl ci-harden`: make soft-failed security scanners in GitHub Actions workflows blocking again."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cdbctl.commands.formats import FindingsFormat, default_format, format_option
from cdbctl.errors import EnvironmentProblem
from cdbctl.output import OutputFormat

if TYPE_CHECKING:
    from cdbctl.ciharden.engine import Outcome
    from cdbctl.ciharden.report import Report

HELP = """Make neutered security scanners in .github/workflows (and composite actions) blocking again.

Finds continue-on-error on scanner steps and jobs, '|| true' after scanners, success-forcing flags and
inputs (bandit --exit-zero, checkov soft_fail, trivy exit-code 0, ...), non-blocking defaults, pipes
without pipefail and 'set +e', and fixes them by splicing only the affected lines. Soft-fails that a
later step gates, and lines carrying '# cdbctl: allow-soft-fail <reason>', are left alone and reported.

\b
Examples:
  cdbctl ci-harden --repo path/to/repo --dry-run
  cdbctl ci-harden --check --format sarif > ci-harden.sarif
  cdbctl ci-harden --check --format github     # annotations in a GitHub Actions job
  cdbctl ci-harden --check --format text       # path:line:col: rule-id message

\b
Exit codes:
  0  every file was checked and nothing (left) to fix
  1  --check/--dry-run: something would be fixed; otherwise: a finding needs a manual fix; or a
     file could not be checked (not valid YAML, merge-conflict markers, too large, an alias bomb,
     an unsupported YAML tag, unreadable, a symlink loop): it is named on stderr and in the summary,
     listed under "errors" in JSON and left untouched; every other file is still checked and fixed
  2  usage error: a bad option, a --repo directory that does not exist
  3  a file cannot be written safely (read-only, changed meanwhile), stdout is closed or full, or a
     workflow directory cannot be listed
"""


RepoOpt = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        help="Repository root (default: the git checkout holding the current directory, else the directory).",
    ),
]
CheckOpt = Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 when anything would be fixed.")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print a unified diff; write nothing.")]
FormatOpt = Annotated[
    FindingsFormat | None,
    format_option(
        "Output format (default: table on a terminal or with --dry-run, else json). table: one "
        "path:line:col: rule-id message line per finding with its job and step; text: the same lines "
        "without them.",
        case_sensitive=False,
    ),
]
IncludeOpt = Annotated[
    list[str] | None,
    typer.Option("--include-job", metavar="PATTERN", help="Only jobs matching this glob (repeatable)."),
]
InfoOpt = Annotated[
    bool, typer.Option("--sarif-info", help="Include info-level notes (left alone) in SARIF output.")
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude-job", metavar="PATTERN", help="Skip jobs matching this glob (repeatable)."),
]


def register(app: typer.Typer) -> None:
    """Add the command to the app."""

    @app.command("ci-harden", help=HELP)
    def ci_harden(  # noqa: PLR0917 - Typer maps parameters to options
        repo: RepoOpt = None,
        check: CheckOpt = False,
        dry_run: DryRunOpt = False,
        fmt: FormatOpt = None,
        include_job: IncludeOpt = None,
        exclude_job: ExcludeOpt = None,
        sarif_info: InfoOpt = False,
    ) -> None:
        from cdbctl.ciharden.engine import exit_code, run
        from cdbctl.ciharden.harden import Options
        from cdbctl.ciharden.repo import check_writable, write_atomic
        from cdbctl.ciharden.report import summary

        # a pipe gets JSON; a --dry-run's data is its diff, so its lines stay text
        fmt = fmt or default_format(text_data=dry_run)
        if repo is None:
            from cdbctl.repo_root import enclosing_repository

            repo = enclosing_repository(Path.cwd())
        mode = "dry-run" if dry_run else "check" if check else "fix"  # both: the diff, and exit 1
        if sys.stdout is None:  # ``>&-``: refuse before anything is written
            raise EnvironmentProblem("stdout is closed; nowhere to write the report", hint="redirect it")
        outcome = run(repo, mode=mode, options=Options(tuple(include_job or ()), tuple(exclude_job or ())))
        report = outcome.report
        if mode == "fix":
            check_writable(outcome.writes)
            for source, text in outcome.writes:
                write_atomic(source, text)
        with _stdout_errors(written=mode == "fix" and bool(outcome.writes)):
            _output(outcome, fmt, repo=repo, dry_run=dry_run, sarif_info=sarif_info)
        counts = summary(report)
        # a file that could not be read is no "file checked": say which, or a gate reads "all clean"
        unchecked = _unchecked(report)
        sys.stderr.write(
            f"ci-harden: {len(report.files)} file(s) checked{unchecked}, {len(report.changed)} "
            f"{'changed' if mode == 'fix' else 'to change'}; "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + "\n"
        )
        raise typer.Exit(exit_code(report))


_NAMED = 5  # unchecked files named in the summary line; the rest are counted


def _unchecked(report: Report) -> str:
    """``, 2 not checked (a.yml, b.yml; errors above)`` for the summary line, or nothing."""
    from cdbctl.sanitize import clean

    if not report.problems:
        return ""
    names = [clean(p.file) for p in report.problems]
    shown = ", ".join(names[:_NAMED]) + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")
    errors = "error" if len(names) == 1 else "errors"
    return f", {len(names)} not checked ({shown}; {errors} above)"


def _output(outcome: Outcome, fmt: FindingsFormat, *, repo: Path, dry_run: bool, sarif_info: bool) -> None:
    """Diagnostics on stderr, the report (and the diff) on stdout."""
    from cdbctl.ciharden.model import located
    from cdbctl.ciharden.report import github_annotations, text_lines, to_json, to_sarif
    from cdbctl.output import dumps_json, warn, write_stdout
    from cdbctl.sanitize import clean

    report = outcome.report
    for problem in report.problems:  # file names and YAML excerpts are outside text
        where = located(problem.file, problem.line, problem.col)
        sys.stderr.write(f"cdbctl: error: {clean(problem.message)}, {clean(where)}\n")
    for skipped in report.skipped:
        warn(clean(f"{skipped.message}, {skipped.file}"))
    if not (report.files or report.problems or report.skipped):
        warn(f"no workflow files in {repo / '.github' / 'workflows'} or composite actions; nothing checked")
    if fmt is OutputFormat.json:
        data = to_json(report)
        if dry_run:
            data["diff"] = outcome.diff
        write_stdout(dumps_json(data))
    elif fmt is OutputFormat.sarif:
        write_stdout(dumps_json(to_sarif(report, include_info=sarif_info)))
    else:
        if dry_run and outcome.diff:
            sys.stdout.write(outcome.diff)
        if fmt is OutputFormat.github:
            lines = github_annotations(report)
        else:
            lines = text_lines(report, steps=fmt is OutputFormat.table)
        (sys.stderr if dry_run else sys.stdout).write(lines)
    sys.stdout.flush()


@contextmanager
def _stdout_errors(*, written: bool) -> Iterator[None]:
    """A full disk (``>/dev/full``) or a closed stdout is an environment error (exit 3), not a bug;
    a reader that went away (EPIPE) stays a broken pipe (exit 141, handled in cli.main)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        _silence_stdout()
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise EnvironmentProblem(
            f"cannot write the report to stdout: {why}"
            + ("; the workflow files were already written" if written else ""),
            hint="check the disk or the redirection of stdout",
        ) from exc


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of what is buffered cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
