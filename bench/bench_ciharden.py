"""Benchmark: `cdbctl ci-harden --check` over 500 realistic workflows vs loading them with ruamel.yaml.

The issue's budget: the whole check (discovery, reading, a keyword prefilter, PyYAML's C composer for
positions, shell analysis, fixes computed and verified) must cost at most a quarter of merely loading
the same files with ruamel.yaml's round-trip loader. Both are measured here, in one run, best of N.

    python bench/bench_ciharden.py [--files 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "ciharden" / "corpus"
BUDGET = 0.25


def build_repo(root: Path, count: int) -> list[Path]:
    """A repository with ``count`` workflows cycled from the test corpus (each made distinct)."""
    sources = sorted(p for p in CORPUS.glob("*.y*ml"))
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    files = []
    for i in range(count):
        src = sources[i % len(sources)]
        path = workflows / f"{i:04d}-{src.name}"
        path.write_bytes(f"# copy {i}\n".encode() + src.read_bytes())
        files.append(path)
    return files


def best_interleaved(fns: list[object], repeat: int) -> list[float]:
    """Best wall time of each function over ``repeat`` rounds, alternating them so that load from
    other processes on a shared machine hits both sides alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()  # type: ignore[operator]
            times[k].append(time.perf_counter() - start)
    return [min(t) for t in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from ruamel.yaml import YAML

    from cdbctl.ciharden.engine import run
    from cdbctl.ciharden.harden import Options
    from cdbctl.ciharden.model import Status

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        files = build_repo(repo, args.files)
        size = sum(p.stat().st_size for p in files)

        def ruamel_load() -> None:
            yaml = YAML(typ="rt")
            for path in files:
                yaml.load(path.read_text(encoding="utf-8"))

        outcome = run(repo, mode="check", options=Options())
        would_fix = sum(f.status is Status.would_fix for f in outcome.report.findings)

        def check() -> None:
            run(repo, mode="check", options=Options())

        t_check, t_ruamel = best_interleaved([check, ruamel_load], args.repeat)

    ratio = t_check / t_ruamel
    print(f"files: {len(files)} ({size / 1024:.0f} KiB), findings would-fix: {would_fix}")
    per_file = 1000 / len(files)
    print(f"ruamel.yaml round-trip load: {t_ruamel * 1000:8.1f} ms  ({t_ruamel * per_file:.2f} ms/file)")
    print(f"cdbctl ci-harden --check:    {t_check * 1000:8.1f} ms  ({t_check * per_file:.2f} ms/file)")
    print(f"ratio check/ruamel: {ratio:.3f} (budget {BUDGET})  {'OK' if ratio <= BUDGET else 'OVER BUDGET'}")
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
