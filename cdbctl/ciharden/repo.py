"""The file-system edge of ci-harden: find workflow files, decode them, write them back atomically."""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cdbctl.atomic import replace_file
from cdbctl.ciharden.readers import MAX_SCRIPT_BYTES
from cdbctl.errors import EnvironmentProblem, InputError

MAX_BYTES = 2 * 1024 * 1024  # real workflows are a few KB; anything larger is refused, not parsed
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Source:
    """A workflow file as read: repo-relative name, real path, decoded text and how to encode it back."""

    name: str
    real: Path
    text: str
    encoding: str
    raw: bytes


@dataclass(frozen=True)
class Skipped:
    """A file that was not read (symlink out of the repo, too large, undecodable)."""

    name: str
    message: str
    error: bool  # True: counts as an input error (exit 2)


def discover(repo: Path) -> tuple[list[tuple[str, Path]], list[Skipped]]:
    """Workflow files and composite actions under ``repo/.github``, sorted; symlinks out of repo skipped."""
    if not repo.is_dir():
        raise InputError(f"repository directory not found: {repo}", hint="pass --repo DIR")
    root = repo.resolve()
    found: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    try:
        candidates = _candidates(repo)
    except OSError as exc:  # a directory the user may not list: nothing below it could be checked
        where = str(exc.filename or repo)
        if Path(where).is_relative_to(repo):
            where = Path(where).relative_to(repo).as_posix()
        raise EnvironmentProblem(
            f"cannot list {where}: {exc.strerror or exc}", hint="check the directory's permissions"
        ) from exc
    seen: dict[Path, str] = {}
    dirs: dict[Path, Path] = {}
    for path in sorted(set(candidates)):
        name = path.relative_to(repo).as_posix()
        try:
            target = path.stat()  # follows symlinks: ELOOP for ``ln -s w.yml w.yml``, ENOENT when dangling
            real = _resolve(path, dirs)
        except (OSError, RuntimeError) as exc:  # Python < 3.13 raises RuntimeError for a loop
            if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
                skipped.append(Skipped(name, "symlink to a missing file; not followed", False))
            else:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "symlink loop"
                skipped.append(Skipped(name, f"cannot read: {why}", True))
            continue
        if real in seen:  # a symlink to another workflow: edit the file once
            skipped.append(Skipped(name, f"same file as {seen[real]}; checked once", False))
        elif not real.is_relative_to(root):
            skipped.append(
                Skipped(name, f"symlink points outside the repository ({real}); not followed", False)
            )
        elif not stat.S_ISREG(target.st_mode):
            continue
        else:
            seen[real] = name
            found.append((name, real))
    return found, skipped


def _resolve(path: Path, dirs: dict[Path, Path]) -> Path:
    """``path.resolve()``, each directory resolved once (``dirs``): a file that is no symlink is its
    resolved directory plus its name (resolving is a system call per path component)."""
    if path.is_symlink():
        return path.resolve()
    parent = dirs.get(path.parent)
    if parent is None:
        parent = dirs[path.parent] = path.parent.resolve()
    return parent / path.name


def _raise(exc: OSError) -> None:
    raise exc


def _candidates(repo: Path) -> list[Path]:
    """Workflow and composite-action files (unfiltered); raises OSError for an unlistable directory."""
    candidates: list[Path] = []
    workflows = repo / ".github" / "workflows"
    if workflows.is_dir():
        candidates += [p for p in workflows.iterdir() if p.suffix in (".yml", ".yaml")]
    actions = repo / ".github" / "actions"
    if actions.is_dir():
        # os.walk does not follow directory symlinks; by default it skips unreadable directories
        for dirpath, dirnames, filenames in os.walk(actions, onerror=_raise):
            dirnames.sort()
            candidates += [Path(dirpath) / f for f in filenames if f in ("action.yml", "action.yaml")]
    return candidates


def read_source(name: str, real: Path) -> Source | Skipped:
    """Read and decode one file (UTF-8, or UTF-16/UTF-8 with a BOM) without loading huge files."""
    try:
        with real.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_BYTES:
                return Skipped(
                    name, f"file is {size} bytes, larger than the {MAX_BYTES} byte limit; not parsed", True
                )
            raw = fh.read()
    except OSError as exc:
        return Skipped(name, f"cannot read: {exc.strerror or exc}", True)
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        return Skipped(name, f"not valid {encoding} at byte {exc.start}", True)
    return Source(name, real, text, encoding, raw)


def file_reader(repo: Path) -> Callable[[str], str | None]:
    """Read a repository file by its repo-relative path (a gate script a workflow runs): regular
    files inside the repository only, at most MAX_SCRIPT_BYTES, UTF-8; anything else is None."""
    root = repo.resolve()
    cache: dict[str, str | None] = {}

    def read(name: str) -> str | None:
        if name not in cache:
            cache[name] = _read_inside(root, name)
        return cache[name]

    return read


def _read_inside(root: Path, name: str) -> str | None:
    try:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not stat.S_ISREG(path.stat().st_mode):
            return None
        if path.stat().st_size > MAX_SCRIPT_BYTES:
            return None
        return path.read_bytes().decode("utf-8")
    except (OSError, RuntimeError, UnicodeDecodeError, ValueError):
        return None


def encode(source: Source, text: str) -> bytes:
    """Encode text back the way the file was encoded (same BOM, same UTF flavour)."""
    if source.encoding == "utf-16":
        le = source.raw.startswith(codecs.BOM_UTF16_LE)
        return (codecs.BOM_UTF16_LE if le else codecs.BOM_UTF16_BE) + text.encode(
            "utf-16-le" if le else "utf-16-be"
        )
    return text.encode(source.encoding)


def check_writable(writes: tuple[tuple[Source, str], ...]) -> None:
    """Refuse (exit 3) before anything is written when a file to change is read-only (no write bit,
    e.g. 0444: a rename would replace it anyway, even for root) or not writable by this user."""
    for source, _ in writes:
        try:
            mode = source.real.stat().st_mode
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {source.name}: {exc.strerror or exc}") from exc
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(source.real, os.W_OK):
            raise EnvironmentProblem(
                f"{source.name} is read-only (mode {stat.S_IMODE(mode):04o}); nothing was written",
                hint="make it writable (chmod u+w) and rerun, or use --dry-run to see the changes",
            )


def write_atomic(source: Source, text: str) -> None:
    """Replace the file's content atomically, keeping its mode; refuse if it changed since it was read."""
    data = encode(source, text)
    try:
        if source.real.read_bytes() != source.raw:
            raise EnvironmentProblem(
                f"{source.name} changed while ci-harden was running; not overwritten",
                hint="rerun cdbctl ci-harden",
            )
        replace_file(source.real, data, stat.S_IMODE(source.real.stat().st_mode))
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot write {source.name}: {exc.strerror or exc}", hint="check the file's permissions"
        ) from exc
