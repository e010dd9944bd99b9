"""TCP probe: healthy when a connection is accepted."""

from __future__ import annotations

from cdbctl.verify.model import Endpoint, Outcome, Status
from cdbctl.verify.probes.base import Deadline, connect, describe_error


def probe_tcp(endpoint: Endpoint, deadline: Deadline) -> Outcome:
    """Connect and close; healthy when the port accepts the connection."""
    try:
        with connect(endpoint, deadline):
            pass
    except OSError as exc:
        return describe_error(exc, deadline)
    return Outcome(Status.healthy, "connected")
