"""Run a piece of a test as the unprivileged user 'nobody' (root reads every file, so permission
tests need another user)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable


def as_nobody(task: Callable[[], object]) -> object:
    """Run task in a forked child as uid/gid 65534 and return its JSON-able result, or
    ["crash", "<Type>: <message>"] when it raises."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(reader)
        try:
            os.setgid(65534)
            os.setuid(65534)
            payload = json.dumps(task())
        except BaseException as exc:  # reported to the parent
            payload = json.dumps(["crash", f"{type(exc).__name__}: {exc}"])
        os.write(writer, payload.encode())
        os._exit(0)
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))
