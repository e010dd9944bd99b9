"""Record the Engine API payloads under tests/data/verify/containers/ from a real Docker engine.

Run by hand (not by pytest) on a machine with a Docker engine and a local image that has `sh`,
`sleep` and `python3` (the e2e suite's `cdbctl-base:bookworm`):

    python tests/data/verify/record_payloads.py [IMAGE]

Containers use `--network none` (no traffic at all) and carry compose labels: the Compose v1 ones
are created by the real `docker-compose` 1.29 (record_v1.yml), the Compose v2 ones by `docker run`
with the label set Compose v2 writes (project, service, container-number, oneoff, version,
config_files, working_dir, ...), since no v2 plugin is installed here. Every payload is the
unchanged answer of `GET /containers/{id}/json`. All containers are removed afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import docker

HERE = Path(__file__).parent
OUT = HERE / "containers"
PROJECT = "cdbrec"
IMAGE = sys.argv[1] if len(sys.argv) > 1 else "cdbctl-base:bookworm"


def v2_labels(service: str, number: int = 1, oneoff: bool = False) -> dict[str, str]:
    return {
        "com.docker.compose.project": PROJECT,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": str(number),
        "com.docker.compose.oneoff": "True" if oneoff else "False",
        "com.docker.compose.version": "2.29.7",
        "com.docker.compose.config-hash": "0" * 64,
        "com.docker.compose.depends_on": "",
        "com.docker.compose.image": "sha256:" + "0" * 64,
        "com.docker.compose.project.config_files": f"/srv/{PROJECT}/compose.yaml",
        "com.docker.compose.project.working_dir": f"/srv/{PROJECT}",
    }


def main() -> None:
    client = docker.from_env()
    OUT.mkdir(exist_ok=True)
    made: list[str] = []

    def run(name: str, service: str, command: str, **kw: object) -> str:
        c = client.containers.run(
            IMAGE, ["sh", "-c", command], name=f"{PROJECT}-{service}-1" if name == "" else name,
            labels=v2_labels(service, **kw.pop("label_kw", {})), network_mode="none", detach=True, **kw,
        )  # fmt: skip
        made.append(c.id)
        return c.id

    try:
        ids = {
            "v2_running_no_healthcheck": run("", "cdb_core", "sleep 600"),
            "v2_running_health_starting": run(
                "", "cdb_risk", "sleep 600",
                healthcheck={"test": ["CMD-SHELL", "sleep 100"], "interval": 60 * 10**9},
            ),
            "v2_running_healthy": run(
                "", "cdb_execution", "sleep 600",
                healthcheck={"test": ["CMD-SHELL", "true"], "interval": 10**9, "start_period": 0},
            ),
            "v2_running_unhealthy": run(
                "", "redis", "sleep 600",
                healthcheck={"test": ["CMD-SHELL", "echo 'Could not connect to Redis at 127.0.0.1:6379: "
                             "Connection refused'; exit 1"], "interval": 10**9, "retries": 2},
            ),  # fmt: skip
            "v2_exited_code_3": run("", "postgres", "exit 3"),
            "v2_restart_loop": run("", "cdb_worker", "exit 1", restart_policy={"Name": "always"}),
            "v2_oneoff_run": run(f"{PROJECT}-cdb_core-run-0f1e2d3c4b5a", "cdb_core", "sleep 600",
                                 label_kw={"oneoff": True}),  # fmt: skip
            "v2_second_replica": run(f"{PROJECT}-cdb_core-2", "cdb_core", "sleep 600", label_kw={"number": 2}),
        }
        created = client.api.create_container(
            IMAGE, ["sh", "-c", "sleep 600"], name=f"{PROJECT}-cdb_gateway-1",
            labels=v2_labels("cdb_gateway"), host_config=client.api.create_host_config(network_mode="none"),
        )  # fmt: skip
        made.append(created["Id"])
        ids["v2_created"] = created["Id"]
        # Compose v1: the real docker-compose 1.29 creates these (its own labels and names).
        v1 = ["docker-compose", "-p", f"{PROJECT}_v1", "-f", str(HERE / "record_v1.yml")]
        subprocess.run([*v1, "up", "-d"], check=True, env={"CDB_IMAGE": IMAGE, "PATH": "/usr/bin:/bin"})
        for c in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}_v1"}):
            made.append(c.id)
            ids[f"v1_{c.labels['com.docker.compose.service']}"] = c.id
        time.sleep(8)  # health checks run, the restart loop restarts a few times
        for name, cid in ids.items():
            payload = client.api.inspect_container(cid)
            (OUT / f"{name}.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
            print(name, payload["State"]["Status"], (payload["State"].get("Health") or {}).get("Status"))
    finally:
        for cid in made:
            client.api.remove_container(cid, force=True)


if __name__ == "__main__":
    main()
