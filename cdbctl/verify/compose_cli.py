"""The compose model as Compose v2 itself computes it: `docker compose config --format json`.

Used when a v2 CLI is on the machine (the `docker compose` plugin, or a `docker-compose` that says
it is v2), so that any corner of the specification the built-in model does not know comes out as
`docker compose up` would see it. The output escapes every `$` as `$$`; that is undone here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cdbctl.errors import InputError
from cdbctl.verify.compose import ComposeProject, load_file
from cdbctl.verify.project import project_environment

Runner = Callable[..., subprocess.CompletedProcess[str]]
CANDIDATES: tuple[tuple[str, ...], ...] = (("docker", "compose"), ("docker-compose",))
TIMEOUT_S = 30.0


def find_compose_cli(env: Mapping[str, str], run: Runner = subprocess.run) -> list[str] | None:
    """The command of a Compose v2 CLI (`docker compose`, else a v2 `docker-compose`) on PATH, or None."""
    for candidate in CANDIDATES:
        exe = shutil.which(candidate[0], path=env.get("PATH"))
        if exe is None:
            continue
        try:
            proc = run(
                [exe, *candidate[1:], "version", "--short"],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                env=dict(env),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout.strip().lstrip("v").startswith("2."):
            return [exe, *candidate[1:]]
    return None


def unescape(value: Any) -> Any:
    """Undo the `$$` escaping of `docker compose config` output in every string."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {k: unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape(v) for v in value]
    return value


def config_json(
    command: Sequence[str],
    files: Sequence[Path],
    env: Mapping[str, str],
    *,
    project: str | None = None,
    profiles: Sequence[str] | None = None,
    run: Runner = subprocess.run,
) -> dict[str, Any]:
    """Run `docker compose config --format json` on the files; its refusal is an InputError."""
    args = [*command]
    for f in files:
        args += ["-f", str(Path(f).absolute())]
    if project:
        args += ["-p", project]
    for p in profiles or ():
        args += ["--profile", p]
    args += ["config", "--format", "json"]
    where = str(files[0])
    try:
        proc = run(args, capture_output=True, text=True, timeout=TIMEOUT_S, env=dict(env), check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"docker compose config did not answer in {TIMEOUT_S:g} s", where=where) from None
    except OSError as exc:
        raise InputError(f"cannot run docker compose: {exc.strerror}", where=where) from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip() and "level=warning" not in ln]
        message = lines[-1] if lines else "failed"
        # Compose names the file it refuses ("validating /abs/rollback.yml: ..."): that one, not the first
        named = [str(f) for f in files if str(Path(f).absolute()) in message]
        raise InputError(f"docker compose config: {message}", where=named[-1] if named else where)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise InputError(f"docker compose config printed no JSON ({exc.msg})", where=where) from None
    if not isinstance(data, dict):
        raise InputError("docker compose config printed no JSON object", where=where)
    return dict(unescape(data))


def load_project_from_cli(
    command: Sequence[str],
    files: Sequence[Path],
    env: Mapping[str, str],
    *,
    project: str | None = None,
    profiles: Sequence[str] | None = None,
    order: Sequence[str] = (),
    run: Runner = subprocess.run,
) -> ComposeProject:
    """The project as Compose v2 resolves it (files still parsed here, for FILE:LINE in messages).

    Compose prints services sorted by name; `order` (the files' order) puts them back.
    """
    directory = Path(files[0]).absolute().parent
    merged_env = project_environment(directory, env)
    if profiles is None:
        profiles = [p.strip() for p in merged_env.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
    # Every profile on: `active` then applies the enabled ones, and `--service` can name any service.
    data = config_json(command, files, env, project=project, profiles=["*"], run=run)
    return ComposeProject(
        str(data.get("name") or ""),
        directory,
        tuple(load_file(Path(f)) for f in files),
        _ordered({str(k): dict(v) for k, v in (data.get("services") or {}).items()}, order),
        secrets=dict(data.get("secrets") or {}),
        configs=dict(data.get("configs") or {}),
        environment=merged_env,
        profiles=tuple(profiles),
    )


def _ordered(services: dict[str, dict[str, Any]], order: Sequence[str]) -> dict[str, dict[str, Any]]:
    rank = {name: i for i, name in enumerate(order)}
    return {n: services[n] for n in sorted(services, key=lambda n: (rank.get(n, len(rank)), n))}
