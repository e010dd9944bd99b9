"""The generated services' endpoints through Flask's test client, against real servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdbctl.risk import evaluate_json
from cdbctl.scaffold.plan import Sources
from tests.scaffold.service_helpers import sample, scaffold_repo, service_app
from tests.servers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOW = "2026-01-01T12:00:05Z"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, sources: Sources) -> Path:
    return scaffold_repo(tmp_path_factory.mktemp("svc") / "cdb", sources)


@pytest.fixture
def risk(generated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with service_app(generated / "backoffice/services/cdb_risk") as module:
        yield module


@pytest.mark.parametrize("name", ["cdb_core", "cdb_risk", "cdb_execution"])
@pytest.mark.unit
def test_health_status_metrics(generated: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MAX_POSITION_PCT", "0.07")
    with service_app(generated / "backoffice/services" / name) as module:
        client = module.app.test_client()
        r = client.get("/health")
        assert r.status_code == 200 and r.get_json() == {"status": "ok", "service": name}
        r = client.get("/ready")
        assert r.status_code == 200 and r.get_json()["status"] == "ready"
        status = client.get("/status").get_json()
        assert status["service"] == name and status["version"]
        if name == "cdb_risk":  # only the service that evaluates signals has the risk engine
            assert status["risk_config"]["ok"] is True
            assert status["risk_config"]["values"]["MAX_POSITION_PCT"] == 0.07
        else:
            assert "risk_config" not in status
        assert status["shared_services"] == {"available": False}
        metrics = client.get("/metrics")
        assert metrics.mimetype == "text/plain"
        # Prometheus 3 refuses a scrape whose Content-Type does not parse (Go's mime.ParseMediaType
        # rejects a parameter given twice): exactly the exposition format's header.
        assert metrics.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = metrics.get_data(as_text=True)
        labels = {"service": name, "method": "GET", "endpoint": "/health", "status": "200"}
        assert sample(text, "cdb_http_requests_total", **labels) == 1
        assert sample(text, "process_resident_memory_bytes") > 0
        assert "# TYPE cdb_http_request_duration_seconds histogram" in text
        assert (client.post("/evaluate").status_code == 404) is (name != "cdb_risk")


@pytest.mark.unit
def test_metrics_are_valid_prometheus_text(risk: ModuleType) -> None:
    client = risk.app.test_client()
    client.get("/health")
    client.get("/nope")
    client.post("/evaluate", data=(EXAMPLES / "signal.json").read_bytes())
    text = client.get("/metrics").get_data(as_text=True)
    assert text.endswith("\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}  # raises on invalid text
    assert families["cdb_http_request_duration_seconds"].type == "histogram"
    assert families["process_cpu_seconds"].type == "counter"
    buckets = [
        s.value for s in families["cdb_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["endpoint"] == "/health"
    ]  # fmt: skip
    assert len(buckets) == 12 and buckets == sorted(buckets)  # cumulative, +Inf last
    assert sample(text, "cdb_http_requests_total", method="GET", endpoint="other", status="404") == 1


@pytest.mark.integration
def test_evaluate_matches_the_cli(risk: ModuleType) -> None:
    client = risk.app.test_client()
    body = (EXAMPLES / "signal.json").read_bytes()
    r = client.post(f"/evaluate?now={NOW}", data=body, content_type="application/json")
    assert r.status_code == 200
    cli = subprocess.run(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(EXAMPLES / "signal.json"), "--now", NOW,
         "--format", "json"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert cli.returncode in (0, 1), cli.stderr
    assert r.get_json() == json.loads(cli.stdout)
    assert r.get_json() == evaluate_json(body, env={}, now=NOW)


@pytest.mark.unit
def test_evaluate_list_and_rejections_counted(risk: ModuleType) -> None:
    client = risk.app.test_client()
    good = json.loads((EXAMPLES / "signal.json").read_text())
    stale = {**good, "signal_id": "old", "timestamp": "2025-01-01T00:00:00Z"}
    r = client.post(f"/evaluate?now={NOW}", json=[good, stale])
    assert r.status_code == 200
    decisions = r.get_json()
    assert decisions == evaluate_json([good, stale], env={}, now=NOW)
    assert [d["approved"] for d in decisions] == [True, False]
    text = client.get("/metrics").get_data(as_text=True)
    reason = decisions[1]["reason"]
    total = "cdb_risk_decisions_total"
    assert sample(text, total, service="cdb_risk", approved="false", reason=reason) == 1
    assert sample(text, total, service="cdb_risk", approved="true", reason="approved") == 1


@pytest.mark.parametrize(
    ("body", "query", "message"),
    [
        (b"{bad", "", "malformed JSON"),
        (b"", "", "malformed JSON"),
        (b"3", "", "expected a JSON object or array"),
        (b"null", "", "expected a JSON object or array"),
        (b'{"x": 1}', "?now=yesterday", "now: 'yesterday'"),
    ],
)
@pytest.mark.unit
def test_evaluate_malformed_payload_is_400(risk: ModuleType, body: bytes, query: str, message: str) -> None:
    r = risk.app.test_client().post(f"/evaluate{query}", data=body)
    assert r.status_code == 400
    data = r.get_json()
    assert data["status"] == 400 and message in data["error"]


@pytest.mark.parametrize("body", [b'{"symbol": "BTCUSDT"}', b"[1]"])
@pytest.mark.unit
def test_evaluate_invalid_signal_is_400_with_the_cli_decision(risk: ModuleType, body: bytes) -> None:
    r = risk.app.test_client().post(f"/evaluate?now={NOW}", data=body)
    assert r.status_code == 400
    assert r.get_json() == evaluate_json(body, env={}, now=NOW)
    decisions = r.get_json() if body.startswith(b"[") else [r.get_json()]
    assert decisions[0]["reason"] == "invalid_signal" and decisions[0]["detail"]


@pytest.mark.unit
def test_evaluate_bad_config_is_500(risk: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_POSITION_PCT", "lots")
    r = risk.app.test_client().post(f"/evaluate?now={NOW}", data=(EXAMPLES / "signal.json").read_bytes())
    assert r.status_code == 500 and "MAX_POSITION_PCT" in r.get_json()["error"]
    status = risk.app.test_client().get("/status").get_json()
    assert status["risk_config"]["ok"] is False


@pytest.mark.unit
def test_http_errors_are_json(risk: ModuleType) -> None:
    client = risk.app.test_client()
    assert client.get("/nope").get_json()["status"] == 404
    assert client.get("/evaluate").status_code == 405
    big = client.post("/evaluate", data=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 413 and big.get_json()["status"] == 413


@pytest.mark.unit
def test_one_json_log_line_per_request(risk: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    client = risk.app.test_client()
    capsys.readouterr()
    client.get("/health", headers={"X-Request-ID": "req-1"})
    client.get("/nope")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["service"] == "cdb_risk" and first["path"] == "/health" and first["status"] == 200
    assert first["request_id"] == "req-1" and first["duration_ms"] >= 0
    assert second["status"] == 404 and second["level"] == "info"
    # A request id that is not inert is replaced, never echoed.
    r = client.get("/health", headers={"X-Request-ID": "a b<script>"})
    assert r.headers["X-Request-ID"] != "a b<script>" and len(r.headers["X-Request-ID"]) == 32


@pytest.mark.integration
def test_ready_with_real_redis_and_postgres(
    risk: ModuleType, redis_server_auth: object, postgres_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server_auth.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("DATABASE_URL", postgres_server.url)  # type: ignore[attr-defined]
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["checks"] == {"redis": "ok", "postgres": "ok"}
    # SQLAlchemy-style driver URLs are accepted too.
    monkeypatch.setenv("DATABASE_URL", postgres_server.url.replace("postgresql://", "postgresql+psycopg://"))  # type: ignore[attr-defined]
    monkeypatch.setenv("READY_TIMEOUT_SEC", "0.5")
    assert risk.app.test_client().get("/ready").status_code == 200


@pytest.mark.integration
def test_ready_reads_passwords_from_secret_files(
    risk: ModuleType, redis_server_auth: RedisServer, postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    # CDB's Redis and PostgreSQL read their passwords from compose secrets; so does an added service.
    assert redis_server_auth.password is not None
    redis_file, pg_file = tmp_path / "redis_password", tmp_path / "postgres_password"
    redis_file.write_text(redis_server_auth.password + "\n")  # a trailing newline, as `echo` writes it
    pg_file.write_text(postgres_server.password)
    monkeypatch.setenv("REDIS_URL", redis_server_auth.url.replace(f":{redis_server_auth.password}@", ""))
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(redis_file))
    monkeypatch.setenv("DATABASE_URL", postgres_server.url.replace(f":{postgres_server.password}@", "@"))
    monkeypatch.setenv("POSTGRES_PASSWORD_FILE", str(pg_file))
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["checks"] == {"redis": "ok", "postgres": "ok"}
    pg_file.write_text("wrong")
    body = risk.app.test_client().get("/ready").get_json()
    assert body["failing"] == ["postgres"] and "28P01" in body["checks"]["postgres"]
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(tmp_path / "missing"))
    body = risk.app.test_client().get("/ready").get_json()
    assert body["checks"]["redis"] == "error: cannot read REDIS_PASSWORD_FILE: FileNotFoundError"


@pytest.mark.integration
def test_ready_wrong_redis_password_is_503(risk: ModuleType, redis_server_auth: object,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    url = redis_server_auth.url.replace(redis_server_auth.password, "wrong")  # type: ignore[attr-defined]
    monkeypatch.setenv("REDIS_URL", url)
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 503
    body = r.get_json()
    assert body["failing"] == ["redis"] and "wrong" not in json.dumps(body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_ready_unreachable_dependencies_are_503(risk: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_free_port()}/0")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:p@127.0.0.1:{_free_port()}/db")
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "not ready" and body["failing"] == ["redis", "postgres"]
    assert body["checks"]["redis"].startswith("error: ")


@pytest.mark.integration
def test_ready_rejects_a_server_that_is_not_postgres(
    risk: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def answer() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(8)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:p@127.0.0.1:{port}/db")
    try:
        r = risk.app.test_client().get("/ready")
    finally:
        t.join(5)
        srv.close()
    assert r.status_code == 503 and "not a PostgreSQL server" in r.get_json()["checks"]["postgres"]


@pytest.mark.unit
def test_ready_bad_url_is_503(risk: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://example")
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 503 and "REDIS_URL must look like" in r.get_json()["checks"]["redis"]


@pytest.mark.unit
def test_shared_services_package_is_used_when_present(generated: Path, tmp_path: Path) -> None:
    shared = tmp_path / "repo"
    (shared / "services").mkdir(parents=True)
    (shared / "services/__init__.py").write_text("")
    (shared / "services/risk_engine.py").write_text(
        "def load_risk_config():\n    return {'MAX_POSITION_PCT': 0.05}\n"
    )
    with service_app(generated / "backoffice/services/cdb_core", extra_path=shared) as module:
        info = module.app.test_client().get("/status").get_json()["shared_services"]
    assert info["available"] is True
    assert info["risk_config"] == {"MAX_POSITION_PCT": 0.05}


@pytest.mark.unit
def test_shared_services_namespace_package_reports_its_directory(generated: Path, tmp_path: Path) -> None:
    # CDB's services/ has no __init__.py: a namespace package, whose __file__ is None
    shared = tmp_path / "repo"
    (shared / "services/risk").mkdir(parents=True)
    with service_app(generated / "backoffice/services/cdb_core", extra_path=shared) as module:
        info = module.app.test_client().get("/status").get_json()["shared_services"]
    assert info == {"available": True, "path": str(shared / "services")}


@pytest.mark.unit
def test_broken_shared_services_do_not_break_status(generated: Path, tmp_path: Path) -> None:
    shared = tmp_path / "repo"
    (shared / "services").mkdir(parents=True)
    (shared / "services/__init__.py").write_text("")
    (shared / "services/risk_engine.py").write_text("def load_risk_config():\n    raise KeyError('X')\n")
    with service_app(generated / "backoffice/services/cdb_core", extra_path=shared) as module:
        r = module.app.test_client().get("/status")
    assert r.status_code == 200 and "KeyError" in r.get_json()["shared_services"]["error"]


@pytest.mark.parametrize("level", ["verbose", "", "warn", "DEBUG"])
@pytest.mark.integration
def test_any_log_level_value_keeps_the_service_up(generated: Path, level: str) -> None:
    # A typo in LOG_LEVEL must not crash-loop the container: unknown values fall back to info.
    service = generated / "backoffice/services/cdb_core"
    code = "from app.main import app; print(app.test_client().get('/health').status_code)"
    env = {"PATH": "/usr/bin:/bin", "LOG_LEVEL": level, "PYTHONPATH": str(service)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=service,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "200"
    if level == "verbose":
        assert "unknown LOG_LEVEL 'verbose'" in lines[0]
        assert json.loads(lines[1])["event"] == "request"  # info is the fallback: requests are logged


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("password", "error: authentication failed (SQLSTATE 28P01)"),
        ("user", "error: authentication failed (SQLSTATE 28P01)"),
        ("dbname", "error: database does not exist (SQLSTATE 3D000)"),
    ],
)
@pytest.mark.integration
def test_ready_logs_in_to_postgres_and_a_wrong_credential_is_503(
    risk: ModuleType,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    part: str,
    expected: str,
) -> None:
    wrong = "Wr0ng-s3cret"
    monkeypatch.setenv("DATABASE_URL", postgres_server.dsn(**{part: wrong}))
    r = risk.app.test_client().get("/ready")
    body = r.get_json()
    assert r.status_code == 503 and body["failing"] == ["postgres"]
    assert body["checks"]["postgres"] == expected
    assert wrong not in r.get_data(as_text=True) and postgres_server.password not in r.get_data(as_text=True)


@pytest.mark.integration
def test_ready_logs_in_with_a_password_saslprep_changes(
    risk: ModuleType, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from psycopg import sql

    # SCRAM hashes the password after SASLprep (RFC 4013): a soft hyphen vanishes, "ﬁ" becomes "fi",
    # a no-break space becomes a space. A client that skipped it could not log in.
    password = "p\u00e4ss\u00adw\u00f6rd\u00a0\ufb01"
    with psycopg.connect(
        host=postgres_server.host, port=postgres_server.port, user="postgres",
        password=postgres_server.superuser_password, dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute("DROP ROLE IF EXISTS saslprep_user")
        conn.execute(sql.SQL("CREATE ROLE saslprep_user LOGIN PASSWORD {}").format(sql.Literal(password)))
    url = (
        f"postgresql://saslprep_user:{quote(password)}@{postgres_server.host}:{postgres_server.port}/postgres"
    )
    monkeypatch.setenv("DATABASE_URL", url)
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 200, r.get_json()
    monkeypatch.setenv("DATABASE_URL", url.replace(quote("\ufb01"), "fi!"))
    assert risk.app.test_client().get("/ready").status_code == 503


@pytest.mark.integration
def test_ready_without_the_redis_password_it_requires_is_503(
    risk: ModuleType, redis_server_auth: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{redis_server_auth.port}/0")
    r = risk.app.test_client().get("/ready")
    assert r.status_code == 503 and r.get_json()["checks"]["redis"] == "error: authentication required"


@pytest.mark.unit
def test_saslprep_follows_rfc_4013(generated: Path) -> None:
    with service_app(generated / "backoffice/services/cdb_core"):
        from app.pgwire import saslprep  # type: ignore[import-not-found]

        assert saslprep("user") == "user"
        assert saslprep("I\u00adX") == "IX"  # RFC 4013 section 3 examples
        assert saslprep("\u00aa") == "a"
        assert saslprep("\u2168") == "IX"
        assert saslprep("a\u00a0b") == "a b"
        assert saslprep("\u0007x\u00e9") == "\u0007x\u00e9"  # prohibited: used as given, as PostgreSQL does
