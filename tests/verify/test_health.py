"""Which HTTP health endpoint a compose healthcheck names, and the image table."""

from __future__ import annotations

from typing import Any

import pytest

from cdbctl.verify.health import WELL_KNOWN, HttpHealth, http_healthcheck, image_repository

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("test", "env", "expected"),
    [
        (["CMD", "curl", "-fsS", "http://localhost:8000/health"], {}, HttpHealth("http", 8000, "/health")),
        (["CMD-SHELL", "wget -qO- http://localhost:9090/-/healthy > /dev/null 2>&1 || exit 1"], {},
         HttpHealth("http", 9090, "/-/healthy")),
        ("curl -f http://127.0.0.1:3000/api/health", {}, HttpHealth("http", 3000, "/api/health")),
        (["CMD", "sh", "-c", "curl -f http://0.0.0.0:8080/ready?full=1 || exit 1"], {},
         HttpHealth("http", 8080, "/ready?full=1")),
        (["CMD", "/usr/bin/curl", "--url=http://[::1]:81/x"], {}, HttpHealth("http", 81, "/x")),
        (["CMD-SHELL", "curl -f http://localhost:$${PORT}/health"], {"PORT": "8005"}, None),
        (["CMD-SHELL", "curl -f http://localhost:${PORT}/health"], {"PORT": "8005"},
         HttpHealth("http", 8005, "/health")),
        (["CMD-SHELL", "curl -f http://localhost:$PORT/health"], {"PORT": "8005"},
         HttpHealth("http", 8005, "/health")),
        (["CMD", "curl", "-k", "https://localhost/status"], {}, HttpHealth("https", 443, "/status", False)),
        (["CMD-SHELL", "curl -fsSk https://localhost:8443/h"], {}, HttpHealth("https", 8443, "/h", False)),
        (["CMD", "wget", "--no-check-certificate", "-qO-", "https://localhost:8443/h"], {},
         HttpHealth("https", 8443, "/h", False)),
        (["CMD", "curl", "--insecure", "https://localhost/"], {}, HttpHealth("https", 443, "/", False)),
        (["CMD", "curl", "-fsS", "https://localhost/status"], {}, HttpHealth("https", 443, "/status")),
        (["CMD", "curl", "-K", "/etc/curlrc", "https://localhost/"], {}, HttpHealth("https", 443, "/")),
        (["CMD", "wget", "-k", "-qO-", "https://localhost/"], {}, HttpHealth("https", 443, "/")),
        (["CMD", "curl", "http://localhost"], {}, HttpHealth("http", 80, "/")),
        (["CMD", "curl", "http://other-service:8000/health"], {}, None),  # not this container
        (["CMD", "python", "-c", "urllib.request.urlopen('http://localhost:8000/health')"], {}, None),
        (["CMD-SHELL", "pg_isready -U postgres"], {}, None),
        (["CMD", "curl", "http://localhost:99999/"], {}, None),
        (["NONE"], {}, None),
        (["CMD-SHELL", "curl 'http://localhost:1/x"], {}, None),  # unbalanced quote: no crash
    ],
)  # fmt: skip
def test_http_healthcheck(test: Any, env: dict[str, str], expected: HttpHealth | None) -> None:
    # `$${PORT}` in the file is `${PORT}` after interpolation; the table holds what compose hands over
    assert http_healthcheck({"healthcheck": {"test": test}}, env) == expected


def test_disabled_or_missing_healthcheck() -> None:
    check = {"test": ["CMD", "curl", "http://localhost/"], "disable": True}
    assert http_healthcheck({"healthcheck": check}, {}) is None
    assert http_healthcheck({}, {}) is None
    assert http_healthcheck({"healthcheck": "nonsense"}, {}) is None


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("prom/prometheus:v2.55.0", "prometheus"),
        ("docker.io/grafana/grafana", "grafana"),
        ("localhost:5000/team/redis:7", "redis"),
        ("redis@sha256:0123abcd", "redis"),
        ("quay.io/prometheuscommunity/postgres-exporter:v0.16.0", "postgres-exporter"),
        ("Bitnami/Redis-Exporter:latest", "redis-exporter"),
        ("", ""),
    ],
)
def test_image_repository(image: str, repository: str) -> None:
    assert image_repository({"image": image}) == repository


def test_table_paths_are_absolute_and_ports_valid() -> None:
    for health in WELL_KNOWN.values():
        assert health.path.startswith("/")
        assert 0 < health.port <= 65535
