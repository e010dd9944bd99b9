"""The only module of scaffold that touches the file system: confined, atomic, byte-preserving.

Reads take regular files only (a FIFO named Dockerfile would block forever) and at most MAX_READ bytes.
A run's writes are all staged as temp files first and renamed into place only when every one of them
could be staged, so a read-only directory or a full disk stops the run before any file changes.
A file that changed since this run read it is never overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from cdbctl.atomic import check_replaceable, commit, deferred_interrupt, leftover_temps, stage
from cdbctl.errors import EnvironmentProblem, InputError

MAX_READ = 4 * 1024 * 1024  # generated files are KB, compose files tens of KB; larger is not ours to parse
LOCK_WAIT = 30.0  # seconds a run waits for another scaffold run on the same repository


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class RepoFS:
    """Reads and atomic writes confined to one repository directory (no `..`, no symlink escapes)."""

    def __init__(self, root: Path) -> None:
        try:
            if not root.is_dir():
                raise InputError("repository directory does not exist", where=str(root))
            self.root = root.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise EnvironmentProblem(f"cannot open the repository: {exc}", where=str(root)) from None
        self._read: dict[str, bytes | None] = {}  # what this run saw, to refuse overwriting later edits

    def resolve(self, rel: str) -> Path:
        """The absolute path of a repo-relative POSIX path; refuses anything that leaves the repo."""
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise EnvironmentProblem("refusing a path outside the repository", where=rel)
        path = self.root.joinpath(*pure.parts)
        # Every existing component must stay inside the repo once symlinks are resolved.
        probe = self.root
        for part in pure.parts:
            probe = probe / part
            try:
                if not (probe.is_symlink() or probe.exists()):
                    break  # nothing below a missing component exists either
                real = probe.resolve(strict=True)
            except RuntimeError:  # Python 3.11 reports a symlink loop this way
                raise EnvironmentProblem(
                    "symlink loop", where=rel, hint=f"{probe} points to itself"
                ) from None
            except OSError as exc:
                if exc.errno == errno.ENOENT:  # a dangling symlink: where it points must still be inside
                    real = Path(os.path.realpath(probe))
                else:
                    what = "symlink loop" if exc.errno == errno.ELOOP else f"cannot inspect: {_why(exc)}"
                    raise EnvironmentProblem(what, where=rel) from None
            if real != self.root and self.root not in real.parents:
                raise EnvironmentProblem(
                    "refusing to follow a symlink out of the repository",
                    where=rel,
                    hint=f"{probe} points to {real}",
                )
        return path

    def read(self, rel: str, *, limit: int = MAX_READ) -> bytes | None:
        """The bytes of a regular repo file, or None when it does not exist."""
        data = _read_regular(self.resolve(rel), rel, limit)
        self._read[rel] = data
        return data

    def exists(self, rel: str) -> bool:
        """True when the repo path exists (file or directory)."""
        return self._stat(rel) is not None

    def is_dir(self, rel: str) -> bool:
        """True when the repo path is a directory."""
        st = self._stat(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def is_file(self, rel: str) -> bool:
        """True when the repo path is a regular file (a symlink to one inside the repository counts)."""
        st = self._stat(rel)
        return st is not None and stat.S_ISREG(st.st_mode)

    def _stat(self, rel: str) -> os.stat_result | None:
        path = self.resolve(rel)
        try:
            return path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise EnvironmentProblem(f"cannot inspect: {_why(exc)}", where=rel) from None

    def write(self, rel: str, data: bytes, *, mode: int | None = None) -> None:
        """Atomically replace or create one repo file (see write_all)."""
        self.write_all([(rel, data, mode)])

    def write_all(
        self,
        writes: Sequence[tuple[str, bytes, int | None]],
        *,
        remove: Sequence[str] = (),
        stop_at: Sequence[str] = (),
    ) -> None:
        """Write every file or none: check all, stage all as temp files, then rename each into place.

        An existing file keeps its mode (new ones get mode, else 0644); a file that is read-only or not a
        regular file, or any file that differs from what this run read, stops it before anything changes.
        remove: files to delete (each as this run read it) once everything is staged, before the renames,
        so the last write (the state file) never forgets a file that is still there; the directories
        they leave empty go too, up to (not including) stop_at.
        Ctrl-C during the deletions and renames takes effect after them: none of them is cut in half.
        """
        targets = [(rel, self._checked_target(rel), data, mode) for rel, data, mode in writes]
        created: list[Path] = []
        staged: list[tuple[str, Path, Path]] = []
        current = ""
        try:
            for rel, path, data, mode in targets:
                current = rel
                _make_parents(path.parent, self.root, created)
                self.resolve(rel)  # re-check: a directory made by mkdir must not have raced into a symlink
                try:
                    keep = stat.S_IMODE(path.stat().st_mode)
                except FileNotFoundError:
                    keep = mode if mode is not None else 0o644
                staged.append((rel, stage(path, data, keep), path))
            # Every file the run read, not only those it writes: a compose layer edited meanwhile
            # (base.yml while dev.yml is patched) invalidates the decisions made from it too.
            for rel in [*self._read, *(t[0] for t in targets if t[0] not in self._read)]:
                current = rel
                self._unchanged(rel)
            for rel in remove:  # a file to delete must be the one this run read and decided on
                current = rel
                if rel not in self._read:
                    raise EnvironmentProblem("refusing to delete a file this run did not read", where=rel)
                self._unchanged(rel)
                if not os.access(self.resolve(rel).parent, os.W_OK | os.X_OK):
                    # Checked before anything changes: some files removed and others not would be a
                    # half-done run.
                    raise EnvironmentProblem(
                        "cannot remove: Permission denied (directory not writable); nothing was written",
                        where=rel,
                    )
        except BaseException as exc:
            _discard([tmp for _, tmp, _ in staged])
            for d in reversed(created):
                with contextlib.suppress(OSError):
                    d.rmdir()
            if isinstance(exc, OSError):
                raise EnvironmentProblem(
                    f"cannot write: {_why(exc)}; nothing was written", where=current
                ) from None
            raise
        committed = 0
        with deferred_interrupt():
            try:
                self._remove_generated(remove, stop_at)
                for rel, tmp, path in staged:
                    current = rel
                    commit(tmp, path)
                    committed += 1
            except BaseException as exc:
                _discard([tmp for _, tmp, _ in staged[committed:]])
                if isinstance(exc, OSError):  # only a race (a file made read-only this instant) gets here
                    raise EnvironmentProblem(f"cannot write: {_why(exc)}", where=current) from None
                raise

    def _checked_target(self, rel: str) -> Path:
        path = self.resolve(rel)
        if path.is_symlink():
            raise EnvironmentProblem("refusing to replace a symlink", where=rel)
        try:
            check_replaceable(path)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write: {_why(exc)}", where=rel) from None
        return path

    def _unchanged(self, rel: str) -> None:
        if rel not in self._read:
            return
        try:
            now = _read_regular(self.resolve(rel), rel, MAX_READ)
        except InputError:
            now = b""  # over the limit now: certainly not what was read
        if now != self._read[rel]:
            raise EnvironmentProblem(
                "changed while scaffold was running; nothing was written",
                where=rel,
                hint="rerun cdbctl scaffold",
            )

    def leftovers(self, dirs: set[str], names: dict[str, set[str]]) -> list[str]:
        """Temp files interrupted runs left in the given repo directories (repo-relative, sorted)."""
        out: list[str] = []
        for d in sorted(dirs):
            path = self.root if d in {"", "."} else self.resolve(d)
            try:
                found = leftover_temps(path, names.get(d, set()))
            except OSError as exc:
                raise EnvironmentProblem(f"cannot list: {_why(exc)}", where=d or ".") from None
            out += [p.relative_to(self.root).as_posix() for p in found]
        return out

    def remove(self, rel: str) -> None:
        """Delete one repo file (a leftover temp file)."""
        try:
            self.resolve(rel).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise EnvironmentProblem(f"cannot remove: {_why(exc)}", where=rel) from None

    def _remove_generated(self, rels: Sequence[str], stop_at: Sequence[str]) -> None:
        """Delete generated files no longer produced, then the directories they leave empty, up to
        (not including) the stop_at directories."""
        for rel in rels:
            self.remove(rel)
        stops = {self.root, *(self.resolve(d) for d in stop_at)}
        for parent in sorted({self.resolve(rel).parent for rel in rels}, key=lambda p: -len(p.parts)):
            directory = parent
            while directory not in stops and self.root in directory.parents:
                try:
                    directory.rmdir()
                except OSError:  # not empty (a file the user added, a __pycache__): it stays
                    break
                directory = directory.parent

    @contextlib.contextmanager
    def lock(self, wait: float = LOCK_WAIT) -> Iterator[None]:
        """Hold an exclusive lock on the repository (flock on its directory) while the block runs.

        A lock on the directory itself leaves no lock file behind; it is released when the process dies.
        """
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot lock the repository: {_why(exc)}", where=str(self.root)
            ) from None
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EnvironmentProblem(
                            f"another cdbctl scaffold is running on this repository (waited {wait:.0f} s)",
                            where=str(self.root),
                        ) from None
                    time.sleep(0.05)
                except OSError as exc:  # e.g. ENOLCK on a filesystem without locks
                    raise EnvironmentProblem(
                        f"cannot lock the repository: {_why(exc)}", where=str(self.root)
                    ) from None
            yield
        finally:
            os.close(fd)


def _read_regular(path: Path, rel: str, limit: int) -> bytes | None:
    """At most limit bytes of a regular file (None when missing); FIFOs and devices are refused unread."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise EnvironmentProblem("expected a file, found a directory", where=rel) from None
    except OSError as exc:
        what = "symlink loop" if exc.errno == errno.ELOOP else f"cannot read: {_why(exc)}"
        raise EnvironmentProblem(what, where=rel) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        if stat.S_ISDIR(st.st_mode):
            raise EnvironmentProblem("expected a file, found a directory", where=rel)
        raise EnvironmentProblem("not a regular file (a FIFO, socket or device); not read", where=rel)
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            raise InputError(f"file is {st.st_size} bytes, over the {limit} byte limit; not read", where=rel)
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read: {_why(exc)}", where=rel) from None
    if len(data) > limit:  # it grew while being read
        raise InputError(f"file is over the {limit} byte limit; not read", where=rel)
    return data


def _make_parents(directory: Path, root: Path, created: list[Path]) -> None:
    """Create directory and its missing parents below root, appending each one made to created."""
    missing: list[Path] = []
    probe = directory
    while probe != root and not probe.is_dir():
        if probe.exists() or probe.is_symlink():
            raise NotADirectoryError(errno.ENOTDIR, f"Not a directory: {probe.relative_to(root).as_posix()}")
        missing.append(probe)
        probe = probe.parent
    for d in reversed(missing):
        d.mkdir()
        created.append(d)


def _discard(temps: Sequence[Path]) -> None:
    """Remove staged temp files that will not be renamed into place."""
    for tmp in temps:
        with contextlib.suppress(OSError):
            tmp.unlink()
