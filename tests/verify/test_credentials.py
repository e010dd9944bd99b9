"""Where the Redis and PostgreSQL credentials of a compose stack come from, and what a failure says."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdbctl.verify.credentials import Secret, ServiceSecrets, postgres_login, redis_password, redis_tls
from cdbctl.verify.project import load_project

pytestmark = pytest.mark.unit


def secrets_of(
    tmp_path: Path, service: str, env: dict[str, str] | None = None, name: str = "s"
) -> ServiceSecrets:
    """ServiceSecrets of service `name` in a compose file with a `pw` secret file holding 'file-pw'."""
    (tmp_path / "pw").write_text("file-pw\n\n")
    text = f"services:\n  {name}:\n" + "".join(f"    {line}\n" for line in service.splitlines())
    text += (
        "secrets:\n  pw:\n    file: ./pw\n  from_env:\n    environment: TOKEN\n  ext:\n    external: true\n"
    )
    (tmp_path / "compose.yaml").write_text(text)
    return ServiceSecrets(load_project([tmp_path / "compose.yaml"], env or {}), name)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ('command: redis-server --requirepass literal-pw', "literal-pw"),
        # exec form (a list, or a string Compose splits): no shell, `$${RP}` reaches the server as `${RP}`
        ('command: ["redis-server", "--requirepass", "$${RP}"]\nenvironment: {RP: env-pw}', "${RP}"),
        ("command: redis-server --requirepass=$$RP --port 0\nenvironment: {RP: env-pw}", "$RP"),
        # a string command is split as Compose splits it (CDB's docker-compose.yml; read as `$RP"` before)
        ('command: /bin/sh -c "redis-server --requirepass $$RP"\nenvironment: {RP: env-pw}', "env-pw"),
        ("command: sh -c 'redis-server --requirepass \"$$(cat /run/secrets/pw)\" --port 1'\nsecrets: [pw]",
         "file-pw"),
        ('command: ["redis-server", "--requirepass", "two words"]', "two words"),
        ('command: ["sh", "-c", "exec redis-server --requirepass \\"$$(cat /run/secrets/pw)\\""]\nsecrets: [pw]',
         "file-pw"),
        ('command: ["sh", "-c", "redis-server --requirepass $$(< /run/secrets/pw) --port 1"]\nsecrets: [pw]',
         "file-pw"),
        ('command: ["sh", "-c", "redis-server --requirepass `cat /run/secrets/pw`"]\nsecrets: [pw]', "file-pw"),
        ("command: [\"sh\", \"-c\", \"redis-server --requirepass '$$NOT_EXPANDED'\"]", "$NOT_EXPANDED"),
        ('command: ["sh", "-c", "redis-server --requirepass \\"$$RP\\""]\nenvironment: {RP: env-pw}', "env-pw"),
        ('command: ["sh", "-c", "redis-server --requirepass $${RP}"]\nenvironment: {RP_FILE: /run/secrets/pw}\n'
         "secrets: [pw]", "file-pw"),
        ("environment: {REDIS_PASSWORD: plain}", "plain"),
        ("environment: [REDIS_PASSWORD_FILE=/run/secrets/pw]\nsecrets: [pw]", "file-pw"),
        ("entrypoint: [redis-server, --requirepass, from-entrypoint]", "from-entrypoint"),
        ("image: redis", None),
    ],
)  # fmt: skip
def test_redis_password_sources(tmp_path: Path, service: str, expected: str | None) -> None:
    assert redis_password(secrets_of(tmp_path, service)) == Secret(expected)


@pytest.mark.parametrize(
    ("service", "env", "expected"),
    [
        # long syntax with a relative target: /run/secrets/<target>
        ("environment: {REDIS_PASSWORD_FILE: /run/secrets/renamed}\nsecrets: [{source: pw, target: renamed}]",
         {}, Secret("file-pw")),
        ("environment: {REDIS_PASSWORD_FILE: /etc/redis/pw}\nsecrets: [{source: pw, target: /etc/redis/pw}]",
         {}, Secret("file-pw")),
        ("environment: {REDIS_PASSWORD_FILE: /run/secrets/from_env}\nsecrets: [from_env]",
         {"TOKEN": "env-secret"}, Secret("env-secret")),
        # a bind mount of the secrets directory works like a secret
        ("environment: {REDIS_PASSWORD_FILE: /secrets/pw}\nvolumes: ['./:/secrets:ro']", {}, Secret("file-pw")),
        ("environment: {REDIS_PASSWORD_FILE: /run/secrets/ext}\nsecrets: [ext]", {},
         Secret(problem="/run/secrets/ext: secret 'ext' is external; "
                        "pass the password with --endpoint")),
        ("environment: {REDIS_PASSWORD_FILE: /run/secrets/nope}\nsecrets: [nope]", {},
         Secret(problem="/run/secrets/nope: no top-level secret 'nope' in the compose files")),
        ("environment: {REDIS_PASSWORD_FILE: /run/secrets/pw}", {},
         Secret(problem="/run/secrets/pw is neither a secret nor a bind mount of service s")),
        ("environment: {REDIS_PASSWORD_FILE: /run/secrets/from_env}\nsecrets: [from_env]", {},
         Secret(problem="/run/secrets/from_env: variable TOKEN of secret 'from_env' is unset")),
    ],
)  # fmt: skip
def test_container_paths_lead_to_host_files(
    tmp_path: Path, service: str, env: dict[str, str], expected: Secret
) -> None:
    assert redis_password(secrets_of(tmp_path, service, env)) == expected


@pytest.mark.parametrize(
    ("file", "env", "note"),
    [
        ("${SECRETS_PATH}/pw", {}, "; SECRETS_PATH is not set"),  # CDB's base.yml: compose reads /pw
        ("$DIR/${SECRETS_PATH}/pw", {"DIR": ""}, "; DIR, SECRETS_PATH are not set"),
        ("${SECRETS_PATH:-/nonexistent}/pw", {}, ""),  # a default: nothing is blank
        ("$${SECRETS_PATH}/pw", {}, ""),  # `$$` is a literal dollar
    ],
)
def test_an_unset_variable_in_a_secret_file_path_is_named(
    tmp_path: Path, file: str, env: dict[str, str], note: str
) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  redis:\n    environment: {REDIS_PASSWORD_FILE: /run/secrets/pw}\n    secrets: [pw]\n"
        f"secrets:\n  pw:\n    file: {file}\n"
    )
    s = ServiceSecrets(load_project([tmp_path / "compose.yaml"], env), "redis")
    problem = redis_password(s).problem
    assert problem is not None and problem.startswith("cannot read secret file ")
    assert problem.endswith("No such file or directory" + note)


def test_unreadable_secret_files_say_why_and_never_what(tmp_path: Path) -> None:
    s = secrets_of(tmp_path, "environment: {REDIS_PASSWORD_FILE: /run/secrets/pw}\nsecrets: [pw]")
    (tmp_path / "pw").unlink()
    (tmp_path / "pw").mkdir()  # unreadable even for root
    assert redis_password(s) == Secret(
        problem=f"cannot read secret file {tmp_path / 'pw'} (/run/secrets/pw in REDIS_PASSWORD_FILE): Is a directory"
    )
    (tmp_path / "pw").rmdir()
    (tmp_path / "pw").write_bytes(b"\xff\xfe-not-text")
    problem = redis_password(s).problem
    assert (
        problem == f"secret file {tmp_path / 'pw'} (/run/secrets/pw in REDIS_PASSWORD_FILE) is not UTF-8 text"
    )


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("{}", ("postgres", "postgres", None)),
        ("{POSTGRES_USER: app, POSTGRES_PASSWORD: pw}", ("app", "app", "pw")),
        ("{POSTGRES_USER: app, POSTGRES_DB: ledger, POSTGRES_PASSWORD_FILE: /run/secrets/pw}",
         ("app", "ledger", "file-pw")),
        ("{POSTGRES_USER_FILE: /run/secrets/pw, POSTGRES_PASSWORD_FILE: /run/secrets/pw}",
         ("file-pw", "file-pw", "file-pw")),
        ("{POSTGRESQL_USERNAME: bit, POSTGRESQL_DATABASE: nami, POSTGRESQL_PASSWORD_FILE: /run/secrets/pw}",
         ("bit", "nami", "file-pw")),
    ],
)  # fmt: skip
def test_postgres_login(tmp_path: Path, environment: str, expected: tuple[str, str, str | None]) -> None:
    login = postgres_login(
        secrets_of(tmp_path, f"image: postgres\nenvironment: {environment}\nsecrets: [pw]")
    )
    assert (login.user, login.database, login.password.value) == expected


def test_requirepass_of_a_mounted_config_file(tmp_path: Path) -> None:
    (tmp_path / "redis.conf").write_text("port 6379\n# requirepass commented\n  requirepass conf-pw\n")
    service = "command: [redis-server, /usr/local/etc/redis/redis.conf]\nvolumes: ['./redis.conf:/usr/local/etc/redis/redis.conf:ro']"
    assert redis_password(secrets_of(tmp_path, service)) == Secret("conf-pw")
    (tmp_path / "redis.conf").write_text("port 6379\n")
    assert redis_password(secrets_of(tmp_path, service)) == Secret()
    # a config file baked into the image cannot be read here: the environment is next
    baked = "command: redis-server /etc/redis/redis.conf\nenvironment: {REDIS_PASSWORD: env-pw}"
    assert redis_password(secrets_of(tmp_path, baked)) == Secret("env-pw")
    (tmp_path / "redis.conf").unlink()
    (tmp_path / "redis.conf").mkdir()
    problem = redis_password(secrets_of(tmp_path, service)).problem
    assert problem is not None and problem.startswith(f"cannot read secret file {tmp_path / 'redis.conf'}")


@pytest.mark.parametrize(
    ("service", "port", "expected"),
    [
        # CDB's tls.yml: TLS on the port probed, the CA through the bind mount
        ("command: redis-server --tls-port 6379 --port 0 --tls-ca-cert-file /tls/pw\nvolumes: ['./:/tls:ro']",
         6379, (True, "pw", None)),
        ('command: ["sh", "-c", "redis-server --tls-port=6380 --tls-ca-cert-file /tls/pw"]\nvolumes: ["./:/tls"]',
         6380, (True, "pw", None)),
        # TLS on another port: the probed one is plain
        ("command: redis-server --tls-port 6380 --tls-ca-cert-file /tls/pw\nvolumes: ['./:/tls']", 6379,
         (False, None, None)),
        # no CA named: the system's (SSL_CERT_FILE), as for https
        ("command: redis-server --tls-port 6379 --port 0", 6379, (True, None, None)),
        ("command: redis-server --tls-port 6379 --tls-ca-cert-file /etc/ca.crt", 6379,
         (True, None, "cannot find the CA file (/etc/ca.crt in --tls-ca-cert-file): "
                       "/etc/ca.crt is neither a secret nor a bind mount of service s")),
        ("command: redis-server --port 6379", 6379, (False, None, None)),
    ],
)  # fmt: skip
def test_redis_tls_from_the_server_command(
    tmp_path: Path, service: str, port: int, expected: tuple[bool, str | None, str | None]
) -> None:
    found = redis_tls(secrets_of(tmp_path, service), port)
    ca = Path(found.ca_file).name if found.ca_file else None
    assert (found.tls, ca, found.problem) == expected
