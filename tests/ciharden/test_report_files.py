"""Report names: a path with expansions in it is matched by the glob a later step reads it by, only
when enough of its name is literal to tell it from other files."""

from __future__ import annotations

import pytest

from cdbctl.ciharden.report_files import report_pattern

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
