"""The only module of scaffold that touches the file system: confined, atomic, byte-preserving."""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath

from cdbctl.atomic import replace_file
from cdbctl.errors import EnvironmentProblem, InputError


class RepoFS:
    """Reads and atomic writes confined to one repository directory (no `..`, no symlink escapes)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InputError("repository directory does not exist", where=str(root))
        self.root = root.resolve()

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
            if probe.is_symlink() or probe.exists():
                real = probe.resolve()
                if real != self.root and self.root not in real.parents:
                    raise EnvironmentProblem(
                        "refusing to follow a symlink out of the repository",
                        where=rel,
                        hint=f"{probe} points to {real}",
                    )
        return path

    def read(self, rel: str) -> bytes | None:
        """The bytes of a repo file, or None when it does not exist."""
        path = self.resolve(rel)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise EnvironmentProblem("expected a file, found a directory", where=rel) from None
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read: {exc.strerror}", where=rel) from None

    def exists(self, rel: str) -> bool:
        """True when the repo path exists (file or directory)."""
        return self.resolve(rel).exists()

    def is_dir(self, rel: str) -> bool:
        """True when the repo path is a directory."""
        return self.resolve(rel).is_dir()

    def write(self, rel: str, data: bytes, *, mode: int | None = None) -> None:
        """Atomically replace or create a repo file, keeping the mode of an existing one."""
        path = self.resolve(rel)
        if path.is_symlink():
            raise EnvironmentProblem("refusing to replace a symlink", where=rel)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.resolve(rel)  # re-check: mkdir must not have raced into a symlink
            try:
                keep = stat.S_IMODE(path.stat().st_mode)
            except FileNotFoundError:
                keep = mode if mode is not None else 0o644
            replace_file(path, data, keep)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write: {exc.strerror or exc}", where=rel) from None
