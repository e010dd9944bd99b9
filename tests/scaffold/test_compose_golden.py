"""Byte-exact golden tests of the compose patch on many real-world shapes."""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest
import yaml

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.scaffold.layers import decode
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import patch_for
from cdbctl.scaffold.spec import build_specs
from tests.scaffold.conftest import DATA

pytestmark = pytest.mark.unit

GOLDEN = DATA / "compose"
CASES = sorted(p.name.removesuffix(".input.yml") for p in GOLDEN.glob("*.input.yml"))
SUBFOLDER = {"subfolder": "deploy/docker-compose.yml"}


def _patch(raw: bytes, sources: Sources, path: str) -> bytes:
    text, encoding = decode(raw, path)
    return patch_for(text, build_specs([]), sources, path).text.encode(encoding)


def test_there_are_many_shapes() -> None:
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, sources: Sources) -> None:
    path = SUBFOLDER.get(case, "docker-compose.yml")
    raw = (GOLDEN / f"{case}.input.yml").read_bytes()
    expected = (GOLDEN / f"{case}.expected.yml").read_bytes()
    assert _patch(raw, sources, path) == expected
    # Idempotent: the patched file needs no further change.
    assert _patch(expected, sources, path) == expected


@pytest.mark.parametrize("case", CASES)
def test_golden_builds_point_at_the_generated_dockerfiles(case: str) -> None:
    path = SUBFOLDER.get(case, "docker-compose.yml")
    data = yaml.safe_load((GOLDEN / f"{case}.expected.yml").read_bytes().decode("utf-8-sig"))
    base = posixpath.dirname(path) or "."
    for name in ("cdb_core", "cdb_risk", "cdb_execution"):
        build = data["services"][name]["build"]
        context = posixpath.normpath(posixpath.join(base, build["context"]))
        assert context == "."
        dockerfile = posixpath.normpath(posixpath.join(context, build["dockerfile"]))
        assert dockerfile == f"backoffice/services/{name}/Dockerfile"


@pytest.mark.parametrize("case", CASES)
def test_golden_changes_nothing_but_the_targets(case: str) -> None:
    """Every service and top-level key the patch is not about loads exactly as before."""
    before = yaml.safe_load((GOLDEN / f"{case}.input.yml").read_bytes().decode("utf-8-sig"))
    after = yaml.safe_load((GOLDEN / f"{case}.expected.yml").read_bytes().decode("utf-8-sig"))
    assert {k: v for k, v in before.items() if k != "services"} == {
        k: v for k, v in after.items() if k != "services"
    }
    for name, svc in before["services"].items():
        if name.startswith("cdb_") and name in {"cdb_core", "cdb_risk", "cdb_execution"}:
            new = dict(after["services"][name])
            old = dict(svc)
            old_build, new_build = old.pop("build", None), new.pop("build")
            assert old == new  # every key but build untouched
            if isinstance(old_build, dict):  # build args and other build keys kept
                assert {k: v for k, v in old_build.items() if k not in {"context", "dockerfile"}} == {
                    k: v for k, v in new_build.items() if k not in {"context", "dockerfile", "<<"}
                }
        else:
            assert after["services"][name] == svc


def test_crlf_stays_crlf() -> None:
    out = (GOLDEN / "crlf.expected.yml").read_bytes()
    assert b"\r\n" in out
    assert out.count(b"\n") == out.count(b"\r\n")


def test_bom_and_non_ascii_kept() -> None:
    out = (GOLDEN / "bom_utf8.expected.yml").read_bytes()
    assert out.startswith(b"\xef\xbb\xbf")
    assert "café".encode() in out


def test_no_final_newline_kept() -> None:
    assert not (GOLDEN / "indent4_no_final_newline.expected.yml").read_bytes().endswith(b"\n")


def test_missing_services_depend_on_the_backing_services() -> None:
    data = yaml.safe_load((GOLDEN / "missing_services.expected.yml").read_text())
    risk = data["services"]["cdb_risk"]
    assert risk["depends_on"] == ["redis", "db"]  # the list form, which `docker stack deploy` accepts too
    # That redis has no password: requiring REDIS_PASSWORD would stop `docker compose up` until it is
    # set, and then AUTH against a passwordless server fails /ready.
    assert risk["environment"]["REDIS_URL"] == "redis://${CDB_REDIS_HOST:-redis}:${CDB_REDIS_PORT:-6379}/0"
    assert "@${CDB_POSTGRES_HOST:-db}:" in risk["environment"]["DATABASE_URL"]
    assert risk["healthcheck"]["test"] == ["CMD", "/opt/venv/bin/python", "/app/healthcheck.py"]
    assert risk["ports"] == ["${CDB_PUBLISH_HOST:-127.0.0.1}:8002:8002"]


@pytest.mark.parametrize(
    ("text", "error", "where"),
    [
        ("services:\n  cdb_core: [\n", InputError, "docker-compose.yml:3:1"),
        ("- just\n- a list\n", InputError, "docker-compose.yml"),
        ("services: [a, b]\n", InputError, "docker-compose.yml:1:11"),
        ("services:\n  cdb_core:\n    build: [x]\n", InputError, "docker-compose.yml:3:12"),
        ("x: &s {image: a}\nservices:\n  cdb_core: *s\n", EnvironmentProblem, "docker-compose.yml:3:13"),
        ("services:\n  cdb_core:\n", EnvironmentProblem, "docker-compose.yml"),
    ],
)
def test_unusable_compose_is_reported_with_location(
    text: str, error: type[Exception], where: str, sources: Sources
) -> None:
    with pytest.raises(error) as info:
        patch_for(text, build_specs(["cdb_core"]), sources, "docker-compose.yml")
    assert str(info.value).endswith(where) or where in str(info.value)


@pytest.mark.parametrize("depth", [600, 5000])
def test_deeply_nested_yaml_is_an_input_error_not_a_crash(depth: int, sources: Sources) -> None:
    text = "services:\n  cdb_core:\n    image: x\n    labels: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(InputError) as info:
        patch_for(text, build_specs(["cdb_core"]), sources, "docker-compose.yml")
    assert "nested too deeply" in info.value.message
    assert ", docker-compose.yml:4:" in str(info.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("services:\n  cdb_core:\n    build: ./a\n  cdb_core:\n    build: ./b\n", "docker-compose.yml:4:3"),
        ("services:\n  cdb_core:\n    build: ./a\n    build: ./b\n", "docker-compose.yml:4:5"),
        ("services: {cdb_core: {image: a}, cdb_core: {image: b}}\n", "docker-compose.yml:1:34"),
    ],
)
def test_duplicate_keys_are_an_input_error_as_in_compose(text: str, where: str, sources: Sources) -> None:
    # docker compose refuses a mapping with a key twice; patching one of the two would be a guess.
    with pytest.raises(InputError) as info:
        patch_for(text, build_specs(["cdb_core"]), sources, "docker-compose.yml")
    assert "defined twice" in info.value.message
    assert str(info.value).endswith(where)


def test_repeated_merge_keys_are_not_duplicates(sources: Sources) -> None:
    text = "x: &a {image: a}\ny: &b {restart: always}\nservices:\n  cdb_core:\n    <<: *a\n    <<: *b\n"
    out = patch_for(text, build_specs(["cdb_core"]), sources, "docker-compose.yml").text
    assert out.startswith(text[: text.index("    <<: *a")])


def test_compose_without_services_key_gets_one(sources: Sources) -> None:
    text = "volumes:\n  data: {}\n"
    out = patch_for(text, build_specs(["cdb_core"]), sources, "docker-compose.yml").text
    assert out.startswith(text)
    assert yaml.safe_load(out)["services"]["cdb_core"]["build"]["context"] == "."


def test_custom_port_in_added_block(sources: Sources) -> None:
    out = patch_for("services:\n  web:\n    image: x\n", build_specs(["cdb_x:9100"]), sources, "c.yml").text
    svc = yaml.safe_load(out)["services"]["cdb_x"]
    assert svc["environment"]["PORT"] == "9100"
    assert svc["ports"] == ["${CDB_PUBLISH_HOST:-127.0.0.1}:9100:9100"]


def test_data_dir_exists() -> None:
    assert Path(GOLDEN).is_dir()


@pytest.mark.parametrize(
    "text",
    [
        "services:\n  web:\n    command: |+\n      echo hi\n\n\n",
        "services:\n  web:\n    command: |\n      echo hi\n\nvolumes: {}\n",
        "services:\n  web:\n    command: >-\n      echo hi\n  # c\nvolumes: {}\n",
    ],
)
def test_adding_after_a_block_scalar_keeps_its_value(text: str, sources: Sources) -> None:
    out = patch_for(text, build_specs(["cdb_x"]), sources, "c.yml").text
    assert out.startswith(text[: text.index("echo hi")])
    assert yaml.safe_load(out)["services"]["web"] == yaml.safe_load(text)["services"]["web"]
    assert patch_for(out, build_specs(["cdb_x"]), sources, "c.yml").text == out


def test_edit_that_would_change_another_value_is_refused(sources: Sources) -> None:
    # A clipped block scalar at the very end without a newline cannot be followed by anything
    # without gaining a line break: refuse (exit 3) rather than change the user's value.
    with pytest.raises(EnvironmentProblem) as info:
        patch_for(
            "services:\n  web:\n    command: |\n      echo hi", build_specs(["cdb_x"]), sources, "c.yml"
        )
    assert "without changing other values" in str(info.value) and info.value.hint


def test_compose_tags_are_tolerated(sources: Sources) -> None:
    text = "services:\n  web:\n    ports: !reset []\n  cdb_x:\n    build: !reset null\n"
    out = patch_for(text, build_specs(["cdb_x"]), sources, "c.yml").text
    assert out == (
        "services:\n  web:\n    ports: !reset []\n"
        "  cdb_x:\n    build: {context: ., dockerfile: backoffice/services/cdb_x/Dockerfile}\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "services:\n  cdb_core:\n    build:\n    ports: ['1:1']\n",
        "services:\n  cdb_core:\n    build:\n      context:\n      dockerfile: D\n",
        "services:\n  cdb_core: {build: , image: x}\n",
        "services:\n  cdb_core:\n    build: {context: , dockerfile: D}\n",
        "services:\n  cdb_core:\n    build:",
    ],
)
def test_an_empty_build_or_context_is_filled_in(text: str, sources: Sources) -> None:
    """`build:` or `context:` with no value made the patch invalid YAML (exit 4): the parsers put an
    empty value right after the colon or on the next line; the value now goes after the colon."""
    out = patch_for(text, build_specs(["cdb_core"]), sources, "deploy/c.yml").text
    build = yaml.safe_load(out)["services"]["cdb_core"]["build"]
    assert build == {"context": "..", "dockerfile": "backoffice/services/cdb_core/Dockerfile"}
    assert patch_for(out, build_specs(["cdb_core"]), sources, "deploy/c.yml").text == out
