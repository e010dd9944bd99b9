"""Benchmark `cdbctl scaffold`: splicing a compose file costs about one parse, and a no-op rerun is cheap.

Prints ratios measured in this one run, never absolute targets:
  patch / parse              -- locating + splicing the build paths vs ruamel's event parse alone (~1-2)
  patch / roundtrip_dump     -- vs a ruamel round-trip load + dump (what re-dumping the file would cost)
  rerun / first_run          -- a second scaffold run (everything identical) vs the first (writes ~70 files)
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ruamel.yaml import YAML

from cdbctl.resources import compose_dir, templates_dir
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.runner import package_dir, patch_for, run_scaffold
from cdbctl.scaffold.sources import load_sources
from cdbctl.scaffold.spec import build_specs

N = int(os.environ.get("BENCH_SCAFFOLD_SERVICES", "300"))
REPEAT = int(os.environ.get("BENCH_SCAFFOLD_REPEAT", "5"))


def best(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    """The best of `repeat` wall-clock timings of fn()."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def compose_text(n: int) -> str:
    """A compose file with n unrelated services plus the three CDB ones with broken build paths."""
    parts = ["services:\n"]
    for i in range(n):
        parts.append(f"  svc_{i}:  # service {i}\n    image: example/svc:{i}\n    ports: ['{9000 + i}:80']\n")
    for name in ("cdb_core", "cdb_risk", "cdb_execution"):
        parts.append(f"  {name}:\n    build:\n      context: ./backoffice/services/old_{name}\n")
    return "".join(parts)


def main() -> int:
    sources = load_sources(templates_dir(), compose_dir(), package_dir())
    specs = build_specs([])
    text = compose_text(N)
    parse = best(lambda: list(YAML(typ="rt").parse(text)))
    patch = best(lambda: patch_for(text, specs, sources, "docker-compose.yml"))

    def roundtrip() -> None:
        y = YAML()
        y.dump(y.load(text), io.StringIO())

    dump = best(roundtrip)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docker-compose.yml").write_text(text)
        fs = RepoFS(root)
        t0 = time.perf_counter()
        run_scaffold(fs, specs, sources, compose=None, write=True, force=False)
        first = time.perf_counter() - t0
        rerun = best(lambda: run_scaffold(fs, specs, sources, compose=None, write=True, force=False), 3)
    print(f"compose with {N + 3} services, {len(text.splitlines())} lines")
    print(f"patch / parse           {patch / parse:6.2f}")
    print(f"patch / roundtrip_dump  {patch / dump:6.2f}")
    print(f"rerun / first_run       {rerun / first:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
