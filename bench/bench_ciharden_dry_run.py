"""Benchmark: `ci-harden --dry-run` against `--check` on one workflow with 5,000 scanner steps.

The issue's budget: the diff costs at most 1.5x the check. The diff is written from the edits
(cdbctl/ciharden/hunks.py), not by difflib over the whole file. Prints both times and the ratio.

    python bench/bench_ciharden_dry_run.py [--steps 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

BUDGET = 1.5


def workflow(steps: int) -> str:
    """One job with ``steps`` soft-failed scanner steps of a few kinds."""
    kinds = (
        "      - name: bandit {n}\n        run: bandit -r pkg{n} || true\n",
        "      - name: trivy {n}\n        uses: aquasecurity/trivy-action@0.28.0\n"
        "        with:\n          scan-ref: dir{n}\n        continue-on-error: true\n",
        "      - name: semgrep {n}\n        run: semgrep scan --config auto src{n}\n",
        "      - name: build {n}\n        run: make build{n}\n",
    )
    body = "".join(kinds[n % len(kinds)].format(n=n) for n in range(steps))
    return "name: big\non: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n" + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from cdbctl.ciharden.engine import run
    from cdbctl.ciharden.harden import Options

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        (repo / ".github" / "workflows").mkdir(parents=True)
        (repo / ".github" / "workflows" / "big.yml").write_text(workflow(args.steps), encoding="utf-8")
        best = {"check": float("inf"), "dry-run": float("inf")}
        for _ in range(args.repeat):
            for mode in ("check", "dry-run"):  # interleaved, so load from other processes hits both alike
                start = time.perf_counter()
                outcome = run(repo, mode=mode, options=Options())
                best[mode] = min(best[mode], time.perf_counter() - start)
                if mode == "dry-run":
                    assert outcome.diff.startswith("--- a/")
    ratio = best["dry-run"] / best["check"]
    print(f"steps={args.steps} check={best['check']:.3f}s dry-run={best['dry-run']:.3f}s ratio={ratio:.2f}")
    print(f"budget {BUDGET}: {'ok' if ratio <= BUDGET else 'OVER'}")
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
