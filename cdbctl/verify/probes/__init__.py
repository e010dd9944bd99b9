"""Endpoint probes behind one protocol, selected through one registry keyed by URL scheme.

Adding a probe kind is one function with the `Probe` signature, one entry here and one test.
"""

from __future__ import annotations

from cdbctl.verify.probes.base import Deadline, Probe
from cdbctl.verify.probes.http import probe_http
from cdbctl.verify.probes.postgres import probe_postgres
from cdbctl.verify.probes.redis import probe_redis
from cdbctl.verify.probes.tcp import probe_tcp

REGISTRY: dict[str, Probe] = {
    "http": probe_http,
    "https": probe_http,
    "tcp": probe_tcp,
    "redis": probe_redis,
    "postgres": probe_postgres,
}

__all__ = ["REGISTRY", "Deadline", "Probe"]
