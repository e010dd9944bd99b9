"""Report names: a path with expansions in it is matched by the glob a later step reads it by, only
when enough of its name is literal to tell it from other files."""

from __future__ import annotations

import pytest

from cdbctl.ciharden.invocation import match_scanner
from cdbctl.ciharden.registry import OUTPUT_FLAGS, TOOLS
from cdbctl.ciharden.report_files import _FORMAT_FLAGS, _FORMAT_SWITCHES, report_paths, report_pattern
from cdbctl.ciharden.shell_lex import commands, lex

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("/tmp/wiz-scan-$(echo $IMAGE | tr '/:' '__').json", "wiz-scan-*.json"),
        ("reports/trivy-${SERVICE}.sarif", "trivy-*.sarif"),
        ("out/$(date +%F)-grype-$(git rev-parse --short HEAD).json", "*-grype-*.json"),
        ("r-`date`.json", None),  # one literal letter before the extension: too little to match by
        ("$OUT", None),
        ("${NAME}.json", None),
        ("$DIR/$NAME", None),
        ("/tmp/scan-$(echo $(date)).json", "scan-*.json"),
    ],
)
def test_report_pattern(path: str, pattern: str | None) -> None:
    assert report_pattern(path) == pattern


def test_no_flag_holds_an_equals_sign() -> None:
    """report_paths and scan_key find ``--flag=value`` by the text before its first "=": exact only
    while no output, report, format or deciding flag (nor a blocking switch) holds one itself."""
    flags = {*OUTPUT_FLAGS, *_FORMAT_FLAGS, *_FORMAT_SWITCHES}
    for tool in TOOLS:
        flags |= {*tool.report_flags, *tool.default_aliases, *(n for r in tool.flags for n in r.names)}
        flags |= {tool.default_flag.split()[0]} if tool.default_flag else set()
        flags |= {c.blocking_switch for c in tool.commands if c.blocking_switch}
    assert len(flags) > 40
    assert not [f for f in flags if "=" in f]


@pytest.mark.parametrize(
    ("script", "paths"),
    [
        ("trivy fs --output r.json --format=json .", {"r.json"}),
        ("trivy fs -o=out/r.json . > log.txt", {"out/r.json", "log.txt"}),
        ("trivy fs . --output", set()),  # a flag with no value
        ("trivy fs --output-file==x .", {"=x"}),
        ("bandit -r . -f json --report-path=a=b.json", {"a=b.json"}),
    ],
)
def test_report_paths(script: str, paths: set[str]) -> None:
    cmd = commands(lex(script))[0]
    inv = match_scanner(cmd.words)
    assert inv is not None
    assert report_paths(cmd, inv) == paths
