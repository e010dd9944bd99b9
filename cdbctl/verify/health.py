"""HTTP health endpoints a stack declares: its own healthchecks, and the well-known ones of common images.

A compose healthcheck runs inside the container, so `curl http://localhost:9090/-/healthy` names the
container port; discovery maps it to the published host port. Images without such a healthcheck
but with a documented health endpoint (Prometheus, Grafana, the exporters, ...) get it from
`WELL_KNOWN`, keyed by the image's repository name (the part after the last `/`, before the tag).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpHealth:
    """An HTTP health endpoint inside the container: scheme, container port, path (with query)."""

    scheme: str
    port: int
    path: str
    verify_tls: bool = True  # False when the healthcheck itself skips certificate checks (curl -k)


# Repository name -> health endpoint of the image (documented by each project). One line per image.
WELL_KNOWN: dict[str, HttpHealth] = {
    "prometheus": HttpHealth("http", 9090, "/-/healthy"),
    "alertmanager": HttpHealth("http", 9093, "/-/healthy"),
    "pushgateway": HttpHealth("http", 9091, "/-/healthy"),
    "grafana": HttpHealth("http", 3000, "/api/health"),
    "grafana-oss": HttpHealth("http", 3000, "/api/health"),
    "grafana-enterprise": HttpHealth("http", 3000, "/api/health"),
    "loki": HttpHealth("http", 3100, "/ready"),
    "redis_exporter": HttpHealth("http", 9121, "/health"),
    "redis-exporter": HttpHealth("http", 9121, "/health"),
    "postgres-exporter": HttpHealth("http", 9187, "/metrics"),
    "postgres_exporter": HttpHealth("http", 9187, "/metrics"),
    "node-exporter": HttpHealth("http", 9100, "/metrics"),
    "cadvisor": HttpHealth("http", 8080, "/healthz"),
}
REDIS_IMAGES = frozenset({"redis", "valkey", "redis-stack", "redis-stack-server", "keydb"})
POSTGRES_IMAGES = frozenset(
    {"postgres", "postgresql", "postgis", "timescaledb", "timescaledb-ha", "pgvector"}
)

_CLIENTS = frozenset({"curl", "wget"})
_LOCAL_URL = re.compile(
    r"(?P<scheme>https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(?P<port>\d{1,5}))?"
    r"(?P<path>/[^\s'\"]*)?\Z"
)
# Per client: curl -k/--insecure (also in a cluster such as -fsSk); wget --no-check-certificate (its -k
# is --convert-links).
_CURL_CLUSTER = re.compile(r"-[A-Za-z]*k[A-Za-z]*")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def well_known_table() -> str:
    """WELL_KNOWN as a Markdown table (docs/verify.md holds a copy; a test compares)."""
    rows = [f"| `{repo}` | {h.port} | `{h.path}` |" for repo, h in WELL_KNOWN.items()]
    return "\n".join(["| image repository | container port | path |", "|---|---|---|", *rows])


def image_repository(service: Mapping[str, Any]) -> str:
    """'docker.io/prom/prometheus:v2.55.0' -> 'prometheus' (lower case; '' without an image)."""
    image = str(service.get("image") or "").lower().split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def healthcheck_words(service: Mapping[str, Any]) -> list[str]:
    """The words of the service's healthcheck command (CMD or CMD-SHELL), [] when there is none."""
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable") in (True, "true"):
        return []
    test = check.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL"):
        return []  # NONE, or an inherited test
    words: list[str] = []
    for part in test[1:]:
        text = str(part)
        if test[0] == "CMD-SHELL" or " " in text:  # a shell string, or `sh -c "curl ..."` in CMD form
            try:
                words += shlex.split(text)
            except ValueError:
                words += text.split()
        else:
            words.append(text)
    return words


def http_healthcheck(service: Mapping[str, Any], environment: Mapping[str, str]) -> HttpHealth | None:
    """The local HTTP URL a curl/wget healthcheck calls, or None (variables from the service environment)."""
    words = healthcheck_words(service)
    if not any(w.rsplit("/", 1)[-1] in _CLIENTS for w in words):
        return None
    for word in words:
        url = _VAR.sub(lambda m: environment.get(m.group(1) or m.group(2), m.group(0)), word)
        m = _LOCAL_URL.match(url.removeprefix("--url="))
        if m:
            scheme = m.group("scheme")
            port = int(m.group("port") or (443 if scheme == "https" else 80))
            if 0 < port <= 65535:
                return HttpHealth(
                    scheme, port, m.group("path") or "/", verify_tls=not _skips_tls_checks(words)
                )
    return None


def _skips_tls_checks(words: list[str]) -> bool:
    """The healthcheck accepts any certificate, so the stack's own check would pass on a self-signed one."""
    client = ""
    for word in words:
        name = word.rsplit("/", 1)[-1]
        if name in _CLIENTS:
            client = name
        elif (client == "curl" and (word == "--insecure" or _CURL_CLUSTER.fullmatch(word))) or (
            client == "wget" and word == "--no-check-certificate"
        ):
            return True
    return False
