"""Regenerate the golden outputs of the ci-harden corpus (run by hand, then review `git diff`).

python tests/ciharden/update_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.report import proposed_fix

DATA = Path(__file__).resolve().parents[1] / "data" / "ciharden"
CORPUS = DATA / "corpus"
GOLDEN = DATA / "golden"


def corpus_files() -> list[Path]:
    """Every corpus workflow/action file, sorted."""
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yml", ".yaml"))


def findings_summary(text: str, name: str) -> tuple[str, list[dict[str, object]]]:
    """Hardened text and the findings as plain data (the golden's shape)."""
    result = harden(text, name, write=True)
    rows = [
        {
            "line": f.line,
            "rule": f.rule.value,
            "status": f.status.value,
            "job": f.job,
            "step": f.step,
            "tool": f.tool,
            "proposed_fix": proposed_fix(f),
        }
        for f in result.findings
    ]
    return result.hardened, rows


def main() -> None:
    for path in corpus_files():
        rel = path.relative_to(CORPUS)
        raw = path.read_bytes()
        hardened, rows = findings_summary(raw.decode("utf-8"), rel.as_posix())
        out = GOLDEN / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(hardened.encode("utf-8"))
        (GOLDEN / f"{rel}.findings.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        print(f"{rel}: {len(rows)} findings")


if __name__ == "__main__":
    main()
