"""The compose project as Compose v2 builds it: merge rules, include, extends, env_file, profiles, names."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdbctl.errors import InputError
from cdbctl.verify.project import load_project

pytestmark = pytest.mark.unit


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_override_files_merge_by_the_specification(tmp_path: Path) -> None:
    base = write(
        tmp_path / "base.yml",
        """\
services:
  app:
    image: app:1
    command: [serve, --port, "80"]
    environment: [A=1, B=2]
    ports: ["8080:80"]
    volumes: ["./data:/data", "logs:/logs"]
    secrets: [one]
    labels: {team: ops}
    healthcheck: {test: [CMD, curl, "http://localhost/"], interval: 5s}
""",
    )
    over = write(
        tmp_path / "over.yml",
        """\
services:
  app:
    command: [serve]
    environment: {B: "3", C: "4"}
    ports: ["8080:80", "9090:90"]
    volumes: ["./other:/data"]
    secrets: [{source: one, target: one, mode: 0400}, two]
    healthcheck: {test: [CMD, wget, "http://localhost/x"]}
""",
    )
    app = load_project([base, over], {}).services["app"]
    assert app["command"] == ["serve"]  # replaced, not appended
    assert app["environment"] == {"A": "1", "B": "3", "C": "4"}  # list and mapping merged by key
    assert app["ports"] == ["8080:80", "9090:90"]  # appended without the duplicate
    assert app["volumes"] == [f"{tmp_path}/other:/data", "logs:/logs"]  # unique by target
    # keyed like compose-go: the short `one` (key /run/secrets/one) and a long `target: one` both stay
    assert app["secrets"] == ["one", {"source": "one", "target": "one", "mode": 0o400}, "two"]
    assert app["healthcheck"] == {"test": ["CMD", "wget", "http://localhost/x"], "interval": "5s"}
    assert app["labels"] == {"team": "ops"}


def test_reset_and_override_tags(tmp_path: Path) -> None:
    base = write(
        tmp_path / "a.yml", "services:\n  s:\n    image: x\n    ports: ['1:1']\n    environment: {A: '1'}\n"
    )
    over = write(
        tmp_path / "b.yml", "services:\n  s:\n    ports: !reset []\n    environment: !override {B: '2'}\n"
    )
    s = load_project([base, over], {}).services["s"]
    assert "ports" not in s
    assert s["environment"] == {"B": "2"}


def test_include_loads_a_project_of_its_own(tmp_path: Path) -> None:
    write(tmp_path / "db" / ".env", "DB_PORT=5555\n")
    write(tmp_path / "db" / "compose.yaml", "services:\n  db:\n    image: postgres\n    ports: ['${DB_PORT}:5432']\n"
          "    env_file: [db.env]\nsecrets:\n  pw:\n    file: ./pw.txt\n")  # fmt: skip
    write(tmp_path / "db" / "db.env", "POSTGRES_USER=inc\n")
    main = write(tmp_path / "compose.yaml", "include: [db/compose.yaml]\nservices:\n  app:\n    image: app\n")
    project = load_project([main], {})
    assert list(project.services) == ["db", "app"]
    assert project.services["db"]["ports"] == ["5555:5432"]  # the included directory's .env
    assert project.services["db"]["environment"] == {"POSTGRES_USER": "inc"}  # its own relative paths
    assert project.secrets["pw"]["file"] == str(tmp_path / "db" / "pw.txt")
    assert project.name == tmp_path.name.lower()  # an include never names the project


def test_include_conflict_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path / "other.yml", "services:\n  app:\n    image: a\n")
    main = write(tmp_path / "compose.yaml", "include: [other.yml]\nservices:\n  app:\n    image: b\n")
    with pytest.raises(InputError, match="service 'app' is defined by an included file and here"):
        load_project([main], {})
    missing = write(tmp_path / "m.yml", "include: [nope.yml]\n")
    with pytest.raises(InputError, match="included compose file not found"):
        load_project([missing], {})


def test_extends_same_file_and_other_file(tmp_path: Path) -> None:
    write(
        tmp_path / "lib" / "common.yml",
        "services:\n  py:\n    image: python\n    build: ./ctx\n    environment: {A: lib}\n"
        "  base:\n    extends: py\n    environment: {B: lib}\n",
    )
    main = write(
        tmp_path / "compose.yaml",
        "services:\n  web:\n    image: nginx\n    ports: ['80:80']\n"
        "  web2:\n    extends: {service: web}\n    ports: ['81:80']\n"
        "  app:\n    extends: {file: lib/common.yml, service: base}\n    environment: {A: mine}\n",
    )
    project = load_project([main], {})
    assert project.services["web2"]["ports"] == ["80:80", "81:80"]
    assert project.services["app"]["environment"] == {"A": "mine", "B": "lib"}
    assert project.services["app"]["build"] == {
        "context": str(tmp_path / "lib" / "ctx")
    }  # relative to its file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  a:\n    extends: b\n  b:\n    extends: a\n", "service 'a' extends itself"),
        ("services:\n  a:\n    extends: nope\n", "extends: no service 'nope' in this file"),
        ("services:\n  a:\n    extends: {file: nope.yml, service: x}\n", "extends file not found"),
        ("services:\n  a:\n    extends: {file: 3}\n", "'extends' of service 'a' needs a 'service'"),
    ],
)
def test_extends_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_project([write(tmp_path / "compose.yaml", text)], {})


def test_env_file_required_and_optional(tmp_path: Path) -> None:
    write(tmp_path / "app.env", "A=from-file\nB=from-file\nC=${OUTER}\nD='${OUTER}'\n")
    f = write(
        tmp_path / "compose.yaml",
        "services:\n  s:\n    image: x\n    env_file:\n      - app.env\n"
        "      - {path: missing.env, required: false}\n    environment: {B: own}\n",
    )
    env = load_project([f], {"OUTER": "o"}).services["s"]["environment"]
    assert env == {"A": "from-file", "B": "own", "C": "o", "D": "${OUTER}"}
    write(f, "services:\n  s:\n    image: x\n    env_file: [missing.env]\n")
    with pytest.raises(InputError, match="env file of service 's' not found"):
        load_project([f], {})


def test_profiles_from_compose_profiles(tmp_path: Path) -> None:
    f = write(
        tmp_path / "compose.yaml",
        "services:\n  a:\n    image: x\n  b:\n    image: x\n    profiles: [debug]\n"
        "  c:\n    image: x\n    profiles: [jobs, debug]\n",
    )
    assert load_project([f], {}).active == ["a"]
    assert load_project([f], {"COMPOSE_PROFILES": "jobs"}).active == ["a", "c"]
    assert load_project([f], {"COMPOSE_PROFILES": " debug , jobs"}).active == ["a", "b", "c"]
    assert load_project([f], {}, profiles=["*"]).active == ["a", "b", "c"]
    write(tmp_path / ".env", "COMPOSE_PROFILES=debug\n")
    assert load_project([f], {}).active == ["a", "b", "c"]


def test_project_name_from_dotenv_and_last_name_key(tmp_path: Path) -> None:
    a = write(tmp_path / "proj" / "a.yml", "name: first\nservices: {}\n")
    b = write(tmp_path / "proj" / "b.yml", "name: ${STACK:-second}\nservices: {}\n")
    assert load_project([a, b], {}).name == "second"
    assert load_project([a, b], {"STACK": "Third"}).name == "third"
    write(tmp_path / "proj" / ".env", "COMPOSE_PROJECT_NAME=from_dotenv\n")
    assert load_project([a, b], {}).name == "from_dotenv"


def test_dotenv_values_are_interpolated_like_compose(tmp_path: Path) -> None:
    write(tmp_path / ".env", "A=a\nB=${A}-b\nC='${A}'\nD=\"${HOME_DIR:-none}/x\"\n")
    f = write(
        tmp_path / "compose.yaml", "services:\n  s:\n    image: x\n    environment: [B=$B, C=$C, D=$D]\n"
    )
    assert load_project([f], {"HOME_DIR": "/h"}).services["s"]["environment"] == {
        "B": "a-b",
        "C": "${A}",
        "D": "/h/x",
    }


@pytest.mark.parametrize(
    ("file", "text"),
    [
        (
            "compose.yaml",
            "services:\n  s:\n    image: x\n    command: redis-server --requirepass hunter2-${\n",
        ),
        (".env", "PASSWORD hunter2-secret\n"),
    ],
)
def test_input_errors_never_quote_the_value(tmp_path: Path, file: str, text: str) -> None:
    f = write(tmp_path / "compose.yaml", "services:\n  s:\n    image: x\n")
    write(tmp_path / file, text)
    with pytest.raises(InputError) as info:
        load_project([f], {})
    assert "hunter2" not in str(info.value)
    assert str(tmp_path / file) in str(info.value)  # the file (and key or line) is named instead
