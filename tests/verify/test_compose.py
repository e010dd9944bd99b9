"""Discovery from compose files on disk: lookup, interpolation, project name, ports, roles, probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdbctl.errors import InputError, UsageError
from cdbctl.resources import compose_dir
from cdbctl.verify.compose import find_compose_files, normalize_project_name
from cdbctl.verify.discovery import PortMapping, active_services, parse_ports, plan_probes
from cdbctl.verify.interpolation import interpolate
from cdbctl.verify.merge import environment_dict, go_float
from cdbctl.verify.project import load_project
from cdbctl.verify.urls import parse_endpoint_option

pytestmark = pytest.mark.unit

SECRETS = {"REDIS_PASSWORD": "r3dis", "POSTGRES_PASSWORD": "pg-pw"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def probes_of(
    files: list[Path], env: dict[str, str] | None = None, services: tuple[str, ...] = ()
) -> list[tuple[str, str, str]]:
    project = load_project(files, env or {})
    return [
        (p.name, p.service, p.endpoint.display)
        for p in plan_probes(project, active_services(project, services), [])
    ]


def test_reference_stack_gets_the_documented_probes() -> None:
    project = load_project([compose_dir() / "docker-compose.yml"], SECRETS)
    assert project.name == "compose"
    specs = plan_probes(project, active_services(project, ()), [])
    assert [(s.name, s.endpoint.kind.value, s.endpoint.display) for s in specs] == [
        ("redis", "redis", "redis://:***@127.0.0.1:6379"),
        ("postgres", "postgres", "postgresql://cdb:***@127.0.0.1:5432/claire_de_binare"),
        ("cdb_core", "http", "http://127.0.0.1:8001/health"),
        ("cdb_risk", "http", "http://127.0.0.1:8002/health"),
        ("cdb_execution", "http", "http://127.0.0.1:8003/health"),
    ]
    # the passwords come from the environment, through interpolation, into the probes
    assert specs[0].endpoint.password == "r3dis"
    assert specs[1].endpoint.password == "pg-pw"


def test_reference_stack_without_secrets_is_an_input_error() -> None:
    with pytest.raises(InputError, match="required variable REDIS_PASSWORD is missing a value"):
        load_project([compose_dir() / "docker-compose.yml"], {"POSTGRES_PASSWORD": "x"})


def test_dotenv_next_to_the_compose_file_is_used_and_the_environment_wins(tmp_path: Path) -> None:
    f = write(
        tmp_path / "stack" / "compose.yaml", "services:\n  cdb_core:\n    ports: ['${CORE_PORT}:8001']\n"
    )
    write(tmp_path / "stack" / ".env", "# ports\nexport CORE_PORT=8101\nCOMPOSE_PROJECT_NAME='from-dotenv'\n")
    assert probes_of([f]) == [("cdb_core", "cdb_core", "http://127.0.0.1:8101/health")]
    assert probes_of([f], {"CORE_PORT": "8201"}) == [("cdb_core", "cdb_core", "http://127.0.0.1:8201/health")]
    assert load_project([f], {}).name == "from-dotenv"


@pytest.mark.parametrize(
    ("directory", "top_name", "env", "option", "expected"),
    [
        ("My.CDB Stack_01", None, {}, None, "mycdbstack_01"),
        ("cdb", "Claire-de-Binare", {}, None, "claire-de-binare"),
        ("cdb", "Named", {"COMPOSE_PROJECT_NAME": "from_env"}, None, "from_env"),
        ("cdb", "named", {"COMPOSE_PROJECT_NAME": "fromenv"}, "cli-wins", "cli-wins"),
        ("_-leading", None, {}, None, "leading"),
    ],
)
def test_project_name_is_derived_like_compose(  # noqa: PLR0917 - one argument per table column
    tmp_path: Path,
    directory: str,
    top_name: str | None,
    env: dict[str, str],
    option: str | None,
    expected: str,
) -> None:
    head = f"name: {top_name}\n" if top_name else ""
    f = write(tmp_path / directory / "docker-compose.yml", head + "services:\n  redis:\n    image: redis\n")
    assert load_project([f], env, option).name == expected


def test_unusable_project_name_is_a_usage_error(tmp_path: Path) -> None:
    f = write(tmp_path / "ok" / "compose.yaml", "name: '???'\nservices: {}\n")
    with pytest.raises(UsageError, match="cannot derive a compose project name"):
        load_project([f], {})


@pytest.mark.parametrize(
    ("env", "option", "source"),
    [
        ({}, "CLI_wins", "--project"),
        ({}, "my proj", "--project"),
        ({"COMPOSE_PROJECT_NAME": "FromEnv"}, None, "COMPOSE_PROJECT_NAME"),
        ({"COMPOSE_PROJECT_NAME": "-dash"}, None, "COMPOSE_PROJECT_NAME"),
    ],
)
def test_explicit_project_name_is_refused_not_normalised(
    tmp_path: Path, env: dict[str, str], option: str | None, source: str
) -> None:
    # Compose v2 normalises a directory or `name:` but refuses a bad -p / COMPOSE_PROJECT_NAME.
    f = write(tmp_path / "ok" / "compose.yaml", "services: {}\n")
    with pytest.raises(UsageError, match=f"invalid project name .* from {source}"):
        load_project([f], env, option)


def test_normalize_project_name() -> None:
    assert normalize_project_name("CDB Stack!") == "cdbstack"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("8001:8001", [PortMapping("", 8001, 8001)]),
        ("127.0.0.1:9001:8001", [PortMapping("127.0.0.1", 9001, 8001)]),
        ("0.0.0.0:9001:8001/tcp", [PortMapping("0.0.0.0", 9001, 8001)]),
        ("[::1]:9001:8001", [PortMapping("::1", 9001, 8001)]),
        ("127.0.0.1::8001", [PortMapping("127.0.0.1", None, 8001)]),
        ("8001", [PortMapping("", None, 8001)]),
        (8001, [PortMapping("", None, 8001)]),
        ("9000-9001:8000-8001", [PortMapping("", 9000, 8000), PortMapping("", 9001, 8001)]),
        ("9000-9009:80", [PortMapping("", 9000, 80)]),
        ("5353:53/udp", []),
        (
            {"target": 8001, "published": "9001", "host_ip": "127.0.0.1"},
            [PortMapping("127.0.0.1", 9001, 8001)],
        ),
        ({"target": 8001, "published": 9001, "protocol": "udp"}, []),
        ({"target": 8001}, [PortMapping("", None, 8001)]),
    ],
)
def test_port_syntax(entry: object, expected: list[PortMapping]) -> None:
    assert parse_ports([entry], "f:1") == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("80:abc", "malformed port"),
        ("70000:80", "port out of range"),
        ("9000-9001:8000-8002", "port ranges differ"),
        ({"published": 80}, "needs a numeric 'target'"),
        ([80], "malformed port"),
    ],
)
def test_bad_port_syntax(entry: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_ports([entry], "f:1")


def test_bad_port_error_names_the_line_of_the_entry(tmp_path: Path) -> None:
    f = write(
        tmp_path / "compose.yaml",
        "services:\n  web:\n    image: x\n    ports:\n      - '8080:80'\n      - '${P}:80'\n",
    )
    with pytest.raises(InputError) as info:
        project = load_project([f], {})
        plan_probes(project, active_services(project, ()), [])
    assert info.value.where == f"{f}:6 (services.web.ports[1])"


def test_roles_ports_and_host_networking(tmp_path: Path) -> None:
    f = write(
        tmp_path / "s" / "compose.yaml",
        """\
services:
  cache:
    image: docker.io/library/redis:7.4-alpine
    command: redis-server --requirepass literal-pw
    ports: ["6390:6379"]
  db:
    image: postgis/postgis:16
    environment: [POSTGRES_USER=app, POSTGRES_PASSWORD=pw]
    ports: ["127.0.0.1:5440:5432", "9187:9187"]
  cdb_core:
    network_mode: host
    ports: ["9999:8001"]
  broker:
    image: rabbitmq:3
    ports: ["5672:5672", "15672:15672"]
  worker:
    image: busybox
  cdb_ephemeral:
    ports: ["8005"]
""",
    )
    assert probes_of([f]) == [
        ("cache", "cache", "redis://:***@127.0.0.1:6390"),
        ("db", "db", "postgresql://app:***@127.0.0.1:5440/app"),
        ("db:9187", "db", "tcp://127.0.0.1:9187"),
        # host networking: compose ignores published ports, the process listens on its own port
        ("cdb_core", "cdb_core", "http://127.0.0.1:8001/health"),
        ("broker", "broker", "tcp://127.0.0.1:5672"),
        ("broker:15672", "broker", "tcp://127.0.0.1:15672"),
    ]
    project = load_project([f], {})
    cache = plan_probes(project, ["cache"], [])[0]
    assert cache.endpoint.password == "literal-pw"


def test_seed_style_cdb_redis_and_cdb_postgres_get_their_protocol_probes(tmp_path: Path) -> None:
    # The CDB compose file names its data stores cdb_redis / cdb_postgres: the cdb_ prefix means
    # "one of our HTTP services" only for services that are not Redis or PostgreSQL.
    f = write(
        tmp_path / "docker-compose.yml",
        """services:
  cdb_redis:
    image: redis:7-alpine
    ports: ["6379:6379"]
  cdb_postgres:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: pw}
    ports: ["5432:5432"]
  cdb-redis-cache:
    build: ./cache
    ports: ["6380:6379"]
  cdb_core:
    ports: ["8001:8001"]
""",
    )
    assert probes_of([f]) == [
        ("cdb_redis", "cdb_redis", "redis://127.0.0.1:6379"),
        ("cdb_postgres", "cdb_postgres", "postgresql://postgres:***@127.0.0.1:5432/postgres"),
        ("cdb-redis-cache", "cdb-redis-cache", "redis://127.0.0.1:6380"),
        ("cdb_core", "cdb_core", "http://127.0.0.1:8001/health"),
    ]


@pytest.mark.parametrize(
    "environment",
    ["[POSTGRES_PASSWORD, POSTGRES_USER=cdb]", "{POSTGRES_PASSWORD: null, POSTGRES_USER: cdb}"],
)
def test_bare_environment_keys_take_their_value_from_the_environment(
    tmp_path: Path, environment: str
) -> None:
    # `- POSTGRES_PASSWORD` (no value) passes the variable through from the shell or .env, as compose does.
    f = write(
        tmp_path / "compose.yaml",
        f"services:\n  db:\n    image: postgres\n    ports: ['5432:5432']\n    environment: {environment}\n",
    )
    project = load_project([f], {"POSTGRES_PASSWORD": "from-env"})
    (db,) = plan_probes(project, ["db"], [])
    assert (db.endpoint.username, db.endpoint.password) == ("cdb", "from-env")
    unset = plan_probes(load_project([f], {}), ["db"], [])[0]
    assert unset.endpoint.password is None


def test_default_file_lookup_merges_the_override_file(tmp_path: Path) -> None:
    write(
        tmp_path / "docker-compose.yml",
        "services:\n  cdb_core:\n    ports: ['8001:8001']\n    environment: {A: '1'}\n",
    )
    write(
        tmp_path / "docker-compose.override.yml",
        "services:\n  cdb_core:\n    ports: ['9100:9100']\n  redis:\n    image: redis\n    ports: ['6379:6379']\n",
    )
    files = find_compose_files(tmp_path, [])
    assert [p.name for p in files] == ["docker-compose.yml", "docker-compose.override.yml"]
    project = load_project(files, {})
    assert project.services["cdb_core"]["ports"] == ["8001:8001", "9100:9100"]
    assert [n for n, _, _ in probes_of(files)] == ["cdb_core", "cdb_core:9100", "redis"]


def test_compose_yaml_is_preferred_and_nothing_found_is_empty(tmp_path: Path) -> None:
    assert find_compose_files(tmp_path, []) == []
    write(tmp_path / "docker-compose.yml", "services: {}\n")
    write(tmp_path / "compose.yaml", "services: {}\n")
    assert find_compose_files(tmp_path, []) == [tmp_path / "compose.yaml"]


def test_deeply_nested_yaml_is_an_input_error_not_a_crash(tmp_path: Path) -> None:
    f = write(tmp_path / "compose.yaml", "services:\n  x: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError) as info:
        load_project([f], {})
    assert "nested too deeply" in info.value.message
    assert str(f) in str(info.value)


def test_dotenv_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    f = write(tmp_path / "compose.yaml", "services:\n  web:\n    image: x\n")
    (tmp_path / ".env").write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(InputError) as info:
        load_project([f], {})
    assert "not UTF-8" in info.value.message
    assert str(tmp_path / ".env") in str(info.value)


@pytest.mark.parametrize(
    ("command", "auth"),
    [("5", ""), ("true", ""), ("1.5", ""), ("{a: b}", ""), ("[--requirepass, 5]", ":***@"),
     ("[[--requirepass, x]]", "")],
)  # fmt: skip
def test_redis_command_of_any_shape_never_crashes_discovery(tmp_path: Path, command: str, auth: str) -> None:
    text = f"services:\n  redis:\n    image: redis\n    ports: ['6379:6379']\n    command: {command}\n"
    f = write(tmp_path / "compose.yaml", text)
    assert probes_of([f]) == [("redis", "redis", f"redis://{auth}127.0.0.1:6379")]


def test_explicit_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="compose file not found"):
        find_compose_files(tmp_path, [tmp_path / "nope.yml"])


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("services:\n  redis: [\n", "malformed YAML", ":3:1"),
        ("services:\n  redis:\n    image: redis\n   ports: x\n", "malformed YAML", ":4:"),
        ("- a\n- b\n", "must be a mapping with a 'services' key", "compose.yaml"),
        ("services:\n  redis: just-a-string\n", "service 'redis' must be a mapping", "compose.yaml:2"),
        ("services: [a]\n", "'services' must be a mapping", "compose.yaml:1"),
        ("other: 1\n", "no 'services' mapping", "compose.yaml"),
        (
            "services:\n  redis:\n    image: redis\n    ports:\n      - 'nope:1'\n",
            "malformed port",
            "compose.yaml:5",
        ),
        ("services:\n  redis:\n    image: ${}\n", "invalid interpolation", "services.redis.image"),
    ],
)
def test_malformed_compose_files_name_file_and_line(
    tmp_path: Path, text: str, message: str, where: str
) -> None:
    f = write(tmp_path / "compose.yaml", text)
    with pytest.raises(InputError) as info:
        project = load_project([f], {})
        plan_probes(project, active_services(project, ()), [])
    assert message in str(info.value)
    assert where in str(info.value)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("$A-$B", {"A": "x"}, "x-"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+alt}", {"A": "1"}, "alt"),
        ("${A:+alt}", {}, ""),
        ("$${A}", {"A": "x"}, "${A}"),
        ("${A:-${B:-inner}}", {}, "inner"),
        ("${A:-${B:-inner}}", {"B": "b"}, "b"),
        ("price: 5$", {}, "price: 5$"),
        ("$(cat /run/secrets/pw) $1 $-x $ lone", {}, "$(cat /run/secrets/pw) $1 $-x $ lone"),
        ("$$(cat f)", {}, "$(cat f)"),
        ("${A:?need A}", {}, "!required variable A is missing a value: need A"),
        ("${A?}", {"A": ""}, ""),
        ("${A?}", {}, "!required variable A is missing a value"),
        ("${A:+${B}}", {"A": "1", "B": "b"}, "b"),
        ("${A+set}", {"A": ""}, "set"),
        ("${A:-a}b}", {}, "ab}"),
        ("${}", {}, None),
        ("${1a}", {}, None),
        ("${A B}", {}, None),
        ("${A", {}, None),
        ("${A:=x}", {}, None),
    ],
)
def test_interpolation(text: str, env: dict[str, str], expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InputError, match="invalid interpolation"):
            interpolate(text, env, "f")
    elif expected.startswith("!"):
        with pytest.raises(InputError) as info:
            interpolate(text, env, "f")
        assert info.value.message == expected[1:]
    else:
        assert interpolate(text, env, "f") == expected


def test_selected_services_and_profiles(tmp_path: Path) -> None:
    f = write(
        tmp_path / "compose.yaml",
        "services:\n  a:\n    ports: ['1001:1']\n  b:\n    ports: ['1002:1']\n    profiles: [debug]\n",
    )
    project = load_project([f], {})
    assert active_services(project, ()) == ["a"]  # b only runs with its profile
    assert active_services(project, ("b",)) == ["b"]
    with pytest.raises(UsageError, match="unknown service 'c'"):
        active_services(project, ("c",))


def test_endpoint_overrides_replace_by_name_and_keep_the_service(tmp_path: Path) -> None:
    f = write(tmp_path / "compose.yaml", "services:\n  cdb_core:\n    ports: ['8001:8001', '9100:9100']\n")
    project = load_project([f], {})
    overrides = [
        parse_endpoint_option("cdb_core=http://127.0.0.1:8001/ready"),
        parse_endpoint_option("cdb_core:9100=http://127.0.0.1:9100/metrics"),
        parse_endpoint_option("extra=tcp://127.0.0.1:7000"),
    ]
    got = [(p.name, p.service, p.endpoint.display) for p in plan_probes(project, ["cdb_core"], overrides)]
    assert got == [
        ("cdb_core", "cdb_core", "http://127.0.0.1:8001/ready"),
        ("cdb_core:9100", "cdb_core", "http://127.0.0.1:9100/metrics"),
        ("extra", "extra", "tcp://127.0.0.1:7000"),
    ]
    with pytest.raises(UsageError, match="endpoint name given twice: x"):
        plan_probes(project, [], [parse_endpoint_option("x=tcp://127.0.0.1:1")] * 2)


@pytest.mark.parametrize(
    ("header", "project", "env", "expected"),
    [
        ("", None, {}, "my_dir_app"),  # the directory's name, normalised as the project name is
        ("", "other", {}, "other_app"),
        ("name: ${STACK:-stk}\n", None, {}, "stk_app"),
        ("name: ${STACK:-stk}\n", None, {"COMPOSE_PROJECT_NAME": "given"}, "given_app"),
        ("name: ${COMPOSE_PROJECT_NAME:-zz}\n", None, {}, "zz_app"),
    ],
)
def test_compose_project_name_is_interpolated_as_the_projects_name(
    tmp_path: Path, header: str, project: str | None, env: dict[str, str], expected: str
) -> None:
    # As `docker compose config` (v2.40) prints them: CDB's rollback.yml names images this way.
    directory = tmp_path / "My_Dir"
    directory.mkdir()
    f = directory / "compose.yaml"
    f.write_text(header + "services:\n  s:\n    image: ${COMPOSE_PROJECT_NAME:-unset}_app\n")
    assert load_project([f], env, project).services["s"]["image"] == expected


def test_null_in_an_override_keeps_the_earlier_value_but_clears_command(tmp_path: Path) -> None:
    base = tmp_path / "compose.yaml"
    base.write_text(
        "services:\n  s:\n    image: x\n    command: [serve]\n    ports: ['8000:8000']\n"
        "    environment: {A: '1'}\n    healthcheck: {test: [CMD, 'true'], interval: 5s}\n"
    )
    over = tmp_path / "prod.yml"
    over.write_text(
        "services:\n  s:\n    image: null\n    command: null\n    ports: null\n    environment: null\n"
        "    healthcheck: {interval: null}\n"
    )
    s = load_project([base, over], {}).services["s"]
    assert (s["image"], s.get("command"), s["ports"], s["environment"]) == (
        "x",
        None,
        ["8000:8000"],
        {"A": "1"},
    )
    assert s["healthcheck"] == {"test": ["CMD", "true"], "interval": "5s"}


def test_documents_of_one_file_merge_in_order_and_keep_their_lines(tmp_path: Path) -> None:
    f = tmp_path / "compose.yaml"
    f.write_text(
        "services:\n  a:\n    image: x\n    ports: ['8000:8000']\n"
        "---\nservices:\n  a:\n    ports: ['8001:8001']\n    environment: {K: v}\n  b:\n    image: y\n"
    )
    project = load_project([f], {})
    assert project.services["a"]["ports"] == ["8000:8000", "8001:8001"]
    assert project.services["a"]["environment"] == {"K": "v"} and project.services["b"]["image"] == "y"
    assert project.where("services", "b") == f"{f}:11"
    assert project.where("services", "a", "image") == f"{f}:3"


def test_a_document_that_is_not_a_mapping_is_named_by_its_line(tmp_path: Path) -> None:
    f = tmp_path / "compose.yaml"
    f.write_text("services:\n  a:\n    image: x\n---\n- not a mapping\n")
    with pytest.raises(InputError) as info:
        load_project([f], {})
    assert (info.value.message, info.value.where) == (
        "compose file must be a mapping with a 'services' key",
        f"{f}:5",
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (60.0, "60"), (2.5, "2.5"), (0.1, "0.1"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
        (1e8, "1e+08"), (0.0001, "0.0001"), (1.5e-5, "1.5e-05"), (-0.0, "-0"), (-3.25, "-3.25"),
        (float("inf"), "+Inf"), (1.2345678901234569e23, "1.2345678901234569e+23"),
    ],
)  # fmt: skip
def test_floats_in_the_environment_read_as_compose_v2_prints_them(value: float, text: str) -> None:
    # compared with `docker compose config` (v2.40) on these and 80 random values
    assert go_float(value) == text
    assert environment_dict({"K": value}) == {"K": text}
