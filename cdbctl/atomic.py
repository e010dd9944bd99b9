"""The one way cdbctl replaces a file: a temp file in the same directory, fsync, then os.replace.

A rename replaces any file the directory lets us replace, whatever the file's own mode says; a user who
made a compose file or workflow read-only (0444) means "do not change this", so that is refused here,
for every command, before anything is written. A kill -9 between creating the temp file and the rename
leaves `.NAME.<random>.tmp` behind; `leftover_temps` finds those for a later run to report and remove.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

# tempfile.mkstemp(prefix=".NAME.", suffix=".tmp"): 8 characters of [a-z0-9_] in between.
_TEMP_RE = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp\Z")


def temp_target(filename: str) -> str | None:
    """The file a temp file of replace_file was for (`.a.yml.k2j4h8sd.tmp` -> `a.yml`), else None."""
    m = _TEMP_RE.match(filename)
    return m.group("name") if m else None


def check_replaceable(path: Path) -> None:
    """Raise OSError when path exists and must not be replaced: read-only, or not a regular file."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise OSError(errno.ELOOP, "is a symlink; not replaced", str(path))
    if not stat.S_ISREG(st.st_mode):
        code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise OSError(code, "is not a regular file; not replaced", str(path))
    # Root passes os.access on a 0444 file; the mode bits are the user's intent, so check them too.
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        mode = stat.S_IMODE(st.st_mode)
        raise PermissionError(errno.EACCES, f"file is read-only (mode {mode:04o}); not replaced", str(path))


def stage(path: Path, data: bytes, mode: int) -> Path:
    """Write data to a new temp file next to path (fsynced, mode set) and return it; raises OSError."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def commit(tmp: Path, path: Path) -> None:
    """Rename a staged temp file over path (refusing a path that turned read-only meanwhile)."""
    try:
        check_replaceable(path)
        # Same directory, so os.replace is a rename on one filesystem: readers see old or new, never half.
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Atomically give path the content data and permission bits mode; raises OSError.

    Refuses (OSError) to replace a read-only file, a symlink or anything that is not a regular file.
    """
    check_replaceable(path)
    commit(stage(path, data, mode), path)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (a crash right after could otherwise bring back the old file)."""
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the data itself is already synced
    finally:
        os.close(dfd)


def leftover_temps(directory: Path, names: set[str]) -> list[Path]:
    """Temp files of replace_file for one of names in directory (regular files only), sorted."""
    found: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        target = temp_target(entry.name)
        if target in names and entry.is_file(follow_symlinks=False):
            found.append(Path(entry.path))
    return sorted(found)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt as it would have.

    For a batch of renames that must not be cut in half; the block must be short (renames, not I/O
    that can hang). Only Python's own SIGINT handler is replaced, and only in the main thread (the
    only one signal handlers can be set from); otherwise the block runs as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt
