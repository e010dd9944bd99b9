"""Record what `cdbctl verify --stack` reads from a real swarm: `python capture.py STACK OUT.json`.

The recordings next to this script came from single-node swarms on loopback (Docker Engine 20.10,
API 1.41): the services of one stack (with `status=true`, as verify asks) and all their tasks.
tests/verify/test_swarm.py interprets them without a Docker engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import docker


def capture(stack: str) -> dict[str, object]:
    """Services (with ServiceStatus) and tasks of one stack, as the Engine API returns them."""
    client = docker.from_env()
    try:
        label = f"com.docker.stack.namespace={stack}"
        return {
            "stack": stack,
            "services": client.api.services(filters={"label": label}, status=True),
            "tasks": client.api.tasks(filters={"label": label}),
        }
    finally:
        client.close()


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(capture(sys.argv[1]), indent=1) + "\n", encoding="utf-8")
