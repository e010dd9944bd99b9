"""Property tests: the compose patch and a whole scaffold run are idempotent and never clobber."""

from __future__ import annotations

import dataclasses
import posixpath
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as hs

from cdbctl.resources import compose_dir, templates_dir
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.runner import package_dir, patch_for, run_scaffold
from cdbctl.scaffold.sources import load_sources
from cdbctl.scaffold.spec import build_specs
from tests.scaffold.conftest import SEED_COMPOSE, tree

pytestmark = pytest.mark.unit

# Module level, not a fixture: hypothesis pretty-prints fixture arguments, and these are large.
SOURCES = load_sources(templates_dir(), compose_dir(), package_dir())
TARGETS = ("cdb_core", "cdb_risk", "cdb_execution")
PATHS = hs.sampled_from(["./backoffice/services/x", ".", "./", "'./old'", '"sub/dir"', "../elsewhere"])
DOCKERFILES = hs.sampled_from(["Dockerfile", "'Dockerfile.prod'", "backoffice/services/x/Dockerfile"])
COMMENT = hs.sampled_from(["", "  # note", " #x"])


@hs.composite
def service(draw: hs.DrawFn, name: str, ind: int) -> str:
    """One compose service in a random but realistic shape."""
    p, i2, i3 = " " * ind, " " * (2 * ind), " " * (3 * ind)
    shape = draw(hs.sampled_from(["block", "block_ctx", "flow", "string", "none", "image", "absent"]))
    own = hs.sampled_from([f"./backoffice/services/{name}", f"backoffice/services/{name}/"])
    ctx, df, c = draw(PATHS | own), draw(DOCKERFILES | hs.just("./Dockerfile")), draw(COMMENT)
    head = f"{p}{name}:{c}\n"
    if shape == "block":
        return head + f"{i2}build:\n{i3}context: {ctx}{c}\n{i3}dockerfile: {df}\n"
    if shape == "block_ctx":
        return head + f'{i2}build:\n{i3}context: {ctx}\n{i2}ports:\n{i3}- "8001:8001"\n'
    if shape == "flow":
        return head + f"{i2}build: {{context: {ctx}, dockerfile: {df}}}{c}\n"
    if shape == "string":
        return head + f"{i2}build: {ctx}{c}\n"
    if shape == "image":
        return head + f"{i2}image: cdb/{name}:latest\n"
    if shape == "none":
        return f"{p}{name}: {{image: cdb/{name}}}\n"
    return ""


@hs.composite
def compose_files(draw: hs.DrawFn) -> str:
    """A compose file mixing shapes, indentation, line endings and the final newline."""
    ind = draw(hs.sampled_from([2, 4]))
    parts = ["services:\n", f"{' ' * ind}redis:\n{' ' * 2 * ind}image: redis:7\n"]
    for name in draw(hs.permutations(TARGETS)):
        parts.append(draw(service(name, ind)))
    parts.append(f"{' ' * ind}other:\n{' ' * 2 * ind}build: ./other  # untouched\n")
    text = "".join(parts)
    if draw(hs.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(hs.booleans()):
        text = text.rstrip("\r\n")
    return text


@settings(max_examples=150, deadline=None)
@given(text=compose_files(), subfolder=hs.booleans())
def test_patch_twice_equals_once(text: str, subfolder: bool) -> None:
    path = "deploy/compose.yaml" if subfolder else "docker-compose.yml"
    specs = build_specs([])
    once = patch_for(text, specs, SOURCES, path).text
    assert patch_for(once, specs, SOURCES, path).text == once
    before, after = yaml.safe_load(text), yaml.safe_load(once)
    assert after["services"]["other"] == before["services"]["other"]
    assert after["services"]["redis"] == before["services"]["redis"]
    for name in TARGETS:
        build = after["services"][name]["build"]
        base = "deploy" if subfolder else "."
        context = posixpath.normpath(posixpath.join(base, build["context"]))
        assert context == "."
        assert posixpath.normpath(posixpath.join(context, build["dockerfile"])) == (
            f"backoffice/services/{name}/Dockerfile"
        )
    if "\r\n" in text:
        assert once.count("\n") == once.count("\r\n")
    assert once.endswith("\n") == text.endswith("\n")


@settings(max_examples=12, deadline=None)
@given(
    names=hs.lists(
        hs.sampled_from(["cdb_core", "cdb_risk", "cdb_execution", "cdb_x", "alpha_2"]), unique=True
    ),
    shared=hs.booleans(),
    crlf=hs.booleans(),
)
def test_scaffold_twice_equals_once(names: list[str], shared: bool, crlf: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if shared:
            (root / "services").mkdir()
        compose = SEED_COMPOSE.replace("\n", "\r\n") if crlf else SEED_COMPOSE
        (root / "docker-compose.yml").write_bytes(compose.encode())
        specs = build_specs(names)
        fs = RepoFS(root)
        first = run_scaffold(fs, specs, SOURCES, compose=(), write=True, force=False)
        assert first.written
        after_once = tree(root)
        second = run_scaffold(fs, specs, SOURCES, compose=(), write=True, force=False)
        assert tree(root) == after_once
        assert not second.would_change
        assert {f.status for f in second.files} == {"identical"}
        shutil.rmtree(root / "backoffice")


@settings(max_examples=10, deadline=None)
@given(
    edits=hs.lists(hs.integers(min_value=0, max_value=10_000), min_size=1, max_size=6, unique=True),
    upgrade=hs.booleans(),
    payload=hs.binary(min_size=1, max_size=40),
)
def test_user_edits_are_never_clobbered(edits: list[int], upgrade: bool, payload: bytes) -> None:
    """Whatever generated files a user edits, a rerun (templates upgraded or not) keeps those bytes:
    the file is kept, or the template's change is merged in or marked beside the user's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docker-compose.yml").write_text(SEED_COMPOSE)
        fs = RepoFS(root)
        run_scaffold(fs, None, SOURCES, compose=(), write=True, force=False)
        generated = sorted(p for p in tree(root) if p.startswith("backoffice/"))
        chosen = {generated[i % len(generated)] for i in edits}
        for rel in chosen:
            (root / rel).write_bytes((root / rel).read_bytes() + payload)
        edited = {rel: (root / rel).read_bytes() for rel in chosen}
        sources = SOURCES
        if upgrade:
            templates = {k: v + "\n# upgraded\n" if k.endswith((".py.j2", ".txt.j2")) else v
                         for k, v in SOURCES.templates.items()}  # fmt: skip
            sources = dataclasses.replace(SOURCES, templates=templates)
        result = run_scaffold(fs, None, sources, compose=(), write=True, force=False)
        assert result.written
        for rel, data in edited.items():
            status = next(f.status for f in result.files if f.path == rel)
            now = (root / rel).read_bytes()
            assert status in {"kept", "identical", "merged", "conflict"}
            assert payload.rstrip(b"\n") in now
            if status in {"kept", "identical"}:
                assert now == data
            elif status == "conflict" and now != data:  # markers written: the template's line is there too
                assert b"<<<<<<< yours" in now and b"# upgraded" in now
        settled = tree(root)
        again = run_scaffold(fs, None, sources, compose=(), write=True, force=False)
        assert tree(root) == settled  # an open conflict is reported again, never merged twice
        assert again.would_change == any(f.status == "conflict" for f in again.files)


SHAPES = ("ok_map", "ok_scalar", "ok_in_context", "broken_dockerfile", "broken_context", "image", "absent")


def _layered_service(name: str, shape: str) -> str:
    short = name.removeprefix("cdb_")
    return {
        "ok_map": f"  {name}:\n    build:\n      context: ../..\n      dockerfile: services/{short}/Dockerfile\n",
        "ok_scalar": f"  {name}:\n    build: ../../services/{short}\n",
        "ok_in_context": f"  {name}:\n    build: {{context: ../../services/{short}, dockerfile: Dockerfile}}\n",
        "broken_dockerfile": f"  {name}:\n    build:\n      context: ../..\n      dockerfile: services/{short}/Gone\n",
        "broken_context": f"  {name}:\n    build: ../../nowhere/{short}\n",
        "image": f"  {name}:\n    image: cdb/{name}:1\n",
        "absent": "",
    }[shape]


@settings(max_examples=25, deadline=None)
@given(
    shapes=hs.tuples(*[hs.sampled_from(SHAPES)] * 3),
    in_base=hs.tuples(*[hs.booleans()] * 3),
)
def test_layered_builds_that_work_are_never_touched(
    shapes: tuple[str, ...], in_base: tuple[bool, ...]
) -> None:
    """Over two layers, whatever the shapes: working builds stay byte-identical and get no files; every
    other requested service ends up building from its generated Dockerfile; a rerun changes nothing."""
    from cdbctl.scaffold.builds import layered_builds

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "infra/compose").mkdir(parents=True)
        base, dev = (
            ["services:\n  redis:\n    image: redis:7\n"],
            ["services:\n  redis:\n    ports: ['6379:6379']\n"],
        )
        for name, shape, where in zip(TARGETS, shapes, in_base, strict=True):
            (root / "services" / name.removeprefix("cdb_")).mkdir(parents=True)
            (root / "services" / name.removeprefix("cdb_") / "Dockerfile").write_text("FROM scratch\n")
            (base if where else dev).append(_layered_service(name, shape))
            if where and shape != "absent":
                dev.append(f"  {name}:\n    ports: ['9000:9000']\n")  # an override without build
        files = ("infra/compose/base.yml", "infra/compose/dev.yml")
        for path, parts in zip(files, (base, dev), strict=True):
            (root / path).write_text("".join(parts))
        before = tree(root)
        fs = RepoFS(root)
        result = run_scaffold(fs, build_specs([]), SOURCES, compose=files, write=True, force=False)
        ok = {f.service for f in result.files if f.status == "ok"}
        assert ok == {n for n, s in zip(TARGETS, shapes, strict=True) if s.startswith("ok_")}
        for name in ok:
            assert not (root / f"backoffice/services/{name}").exists()
        if ok == set(TARGETS):
            assert tree(root) == before
        builds = layered_builds([(f, (root / f).read_text()) for f in files])
        for name in set(TARGETS) - ok:
            b = builds[name]
            assert b.context is not None
            dockerfile = posixpath.normpath(
                posixpath.join("infra/compose", b.context, b.dockerfile or "Dockerfile")
            )
            assert dockerfile == f"backoffice/services/{name}/Dockerfile"
        after = tree(root)
        again = run_scaffold(RepoFS(root), None, SOURCES, compose=files, write=True, force=False)
        assert not again.would_change and tree(root) == after
