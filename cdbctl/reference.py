"""Reference tables of the manual, generated from the code so the docs cannot drift from it.

Each table lives in a page of ``docs/`` between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``.
``python -m cdbctl.reference`` rewrites them; a test fails when a page is stale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from cdbctl.errors import InputError


def _num(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) >= 1:
        return str(int(value))
    return str(value)


def _range(spec: object) -> str:
    kind = getattr(spec, "kind", "")
    if kind == "bool":
        return "true/false"
    if kind == "choice":
        return ", ".join(getattr(spec, "choices", ()))
    low, high = getattr(spec, "low", None), getattr(spec, "high", None)
    low_open = getattr(spec, "low_open", False)
    if low is not None and high is not None:
        if kind == "int":
            return f"{_num(low)}..{_num(high)}"
        return f"{'(' if low_open else '['}{_num(low)}, {_num(high)}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f"<= {_num(high)}"
    return "any"


def risk_config_table() -> str:
    """Markdown table of every risk configuration key: name, aliases, default, range, meaning."""
    from cdbctl.risk.config import KEYS

    rows = ["| key | default | range / values | meaning |", "|---|---|---|---|"]
    for spec in KEYS:
        name = f"`{spec.name}`"
        if spec.aliases:
            name += " (alias " + ", ".join(f"`{a}`" for a in spec.aliases) + ")"
        rows.append(f"| {name} | {_num(spec.default)} | {_range(spec)} | {spec.help.replace('|', '/')} |")
    return "\n".join(rows)


def risk_checks_table() -> str:
    """Markdown table of the rule table in evaluation order: the check, its rule, its reason codes."""
    from cdbctl.risk.rules import RULES

    rows = ["| # | check | rule | rejects with | value (unit) |", "|---|---|---|---|---|"]
    for i, rule in enumerate(RULES, 1):
        reasons = ", ".join(f"`{r}`" for r in rule.reasons)
        unit = rule.unit_text() or "-"
        rows.append(f"| {i} | `{rule.name}` | {rule.rule.replace('|', '/')} | {reasons} | {unit} |")
    return "\n".join(rows)


def verify_rules_table() -> str:
    """Markdown table of verify's probe selection rules, in the order they are tried."""
    from cdbctl.verify.discovery import rules_table

    return rules_table()


def verify_images_table() -> str:
    """Markdown table of the images whose health endpoint verify knows."""
    from cdbctl.verify.health import well_known_table

    return well_known_table()


def ciharden_rules() -> str:
    """ci-harden's rule ids, each a section with an example (anchors for SARIF's helpUri)."""
    from cdbctl.ciharden.rulesdoc import rules_section

    return rules_section()


# page (relative to docs/) -> block name -> generator
TABLES: dict[str, dict[str, Callable[[], str]]] = {
    "risk.md": {"risk-checks": risk_checks_table},
    "configuration.md": {"risk-config": risk_config_table},
    "verify.md": {"verify-rules": verify_rules_table, "verify-images": verify_images_table},
    "ci-harden.md": {"ci-harden-rules": ciharden_rules},
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated:{re.escape(name)} -->\n)(.*?)(<!-- /generated:{re.escape(name)} -->)", re.DOTALL
    )


def render_page(text: str, blocks: dict[str, Callable[[], str]], where: str) -> str:
    """The page text with every generated block replaced by its current table."""
    for name, make in blocks.items():
        pattern = _block(name)
        if not pattern.search(text):
            raise InputError(f"generated block {name!r} missing", where=where)
        table = make()

        def fill(m: re.Match[str], table: str = table) -> str:
            return m.group(1) + table + "\n" + m.group(3)

        text = pattern.sub(fill, text, count=1)
    return text


def _rendered(docs: Path) -> list[tuple[str, Path, str, str]]:
    """(page, path, current text, regenerated text) for every page with generated tables."""
    out = []
    for page, blocks in TABLES.items():
        path = docs / page
        text = path.read_text(encoding="utf-8")
        out.append((page, path, text, render_page(text, blocks, str(path))))
    return out


def stale_pages(docs: Path) -> list[str]:
    """Pages under docs whose generated tables differ from the code."""
    return [page for page, _path, text, new in _rendered(docs) if new != text]


def write_pages(docs: Path) -> list[str]:
    """Regenerate every table in place (atomically); returns the pages that changed."""
    from cdbctl.atomic import replace_file

    changed = []
    for page, path, text, new in _rendered(docs):
        if new != text:
            replace_file(path, new.encode("utf-8"), path.stat().st_mode & 0o7777)
            changed.append(page)
    return changed


if __name__ == "__main__":  # pragma: no cover - developer tool
    import sys

    root = Path(__file__).resolve().parent.parent / "docs"
    for page in write_pages(root):
        sys.stderr.write(f"regenerated docs/{page}\n")
