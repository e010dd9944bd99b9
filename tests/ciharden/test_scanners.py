"""Scanners from real workflows (issue 13, class 2): each found, its soft-fail fixed or reported."""

from __future__ import annotations

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status

pytestmark = pytest.mark.unit

HEAD = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
FIXED, OPEN = Status.fixed, Status.would_fix


@pytest.mark.parametrize(
    ("step", "expected", "after"),
    [
        (
            "      - uses: stackhawk/hawkscan-action@v2\n        continue-on-error: true\n",
            [(Rule.step_continue_on_error, FIXED)],
            "      - uses: stackhawk/hawkscan-action@v2\n",
        ),
        (
            "      - run: mvn -B org.owasp:dependency-check-maven:check -DfailBuildOnCVSS=7 || true\n",
            [(Rule.failure_swallowed, FIXED)],
            "      - run: mvn -B org.owasp:dependency-check-maven:check -DfailBuildOnCVSS=7\n",
        ),
        ("      - run: mvn dependency-check:check\n", [(Rule.nonblocking_default, OPEN)], None),
        ("      - run: ./gradlew dependencyCheckAggregate\n", [(Rule.nonblocking_default, OPEN)], None),
        (
            "      - run: dependency-check.sh -s . --failOnCVSS 11\n",
            [(Rule.success_flag, FIXED)],
            "      - run: dependency-check.sh -s . --failOnCVSS 7\n",
        ),
        (
            "      - uses: dependency-check/Dependency-Check_Action@main\n        with:\n          path: .\n",
            [(Rule.nonblocking_default, OPEN)],
            None,
        ),
        (
            "      - uses: dependency-check/Dependency-Check_Action@main\n        with:\n"
            "          args: >\n            #--failOnCVSS 9\n            --enableRetired\n",
            [(Rule.nonblocking_default, OPEN)],
            None,
        ),
        (
            "      - uses: dependency-check/Dependency-Check_Action@main\n        with:\n"
            "          args: >\n            --failOnCVSS 7\n",
            [],
            None,
        ),
        (
            "      - run: java -jar pipeline-scan.jar -f app.zip || true\n",
            [(Rule.failure_swallowed, FIXED)],
            "      - run: java -jar pipeline-scan.jar -f app.zip\n",
        ),
        (
            "      - run: prowler aws -z\n",
            [(Rule.success_flag, FIXED)],
            "      - run: prowler aws\n",
        ),
        (
            "      - uses: PortSwigger/dastardly-github-action@main\n        continue-on-error: true\n",
            [(Rule.step_continue_on_error, FIXED)],
            "      - uses: PortSwigger/dastardly-github-action@main\n",
        ),
        (
            "      - uses: triat/terraform-security-scan@v3\n        continue-on-error: true\n",
            [(Rule.step_continue_on_error, FIXED)],
            "      - uses: triat/terraform-security-scan@v3\n",
        ),
        (
            "      - run: uv tool run pip-audit || true\n",
            [(Rule.failure_swallowed, FIXED)],
            "      - run: uv tool run pip-audit\n",
        ),
        (
            "      - run: docker run -t ghcr.io/zaproxy/zaproxy:stable zap-full-scan.py -t http://x || true\n",
            [(Rule.failure_swallowed, FIXED)],
            "      - run: docker run -t ghcr.io/zaproxy/zaproxy:stable zap-full-scan.py -t http://x\n",
        ),
        (
            "      - run: npm audit --audit-level=none\n",
            [(Rule.success_flag, FIXED)],
            "      - run: npm audit --audit-level=low\n",
        ),
        (
            "      - run: grype app:ci -o json\n",
            [(Rule.nonblocking_default, FIXED)],
            "      - run: grype --fail-on low app:ci -o json\n",
        ),
        ("      - run: grype app:ci -f high\n", [], None),
        (
            "      - name: Image scan\n        run: make lint-trivy || true\n",
            [(Rule.failure_swallowed, FIXED)],
            "      - name: Image scan\n        run: make lint-trivy\n",
        ),
        ("      - name: Build\n        run: make lint-trivy || true\n", [], None),
        ("      - name: Scan setup\n        run: make install-trivy || true\n", [], None),
        # listings, not scans: their || true stays
        ("      - run: prowler aws --list-compliance | grep -i cis || true\n", [], None),
        ("      - run: prowler aws -l --service s3 || true\n", [], None),
        (
            "      - run: python prowler.py -M csv || echo done\n",
            [(Rule.failure_swallowed, FIXED)],
            "      - run: python prowler.py -M csv\n",
        ),
        ("      - run: python setup.py bdist_wheel || true\n", [], None),
        (
            "      - run: cve-bin-tool dist -o r.html\n        continue-on-error: true\n",
            [(Rule.step_continue_on_error, FIXED)],
            "      - run: cve-bin-tool dist -o r.html\n",
        ),
        # an SBOM is no vulnerability scan
        ("      - run: trivy image --format cyclonedx -o sbom.json app || true\n", [], None),
        ("      - run: trivy fs -f=spdx-json . || true\n", [], None),
        (
            "      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          format: spdx\n",
            [],
            None,
        ),
        # the command word looks the scanner up
        (
            "      - run: $(which trivy) fs . || true\n",
            [(Rule.failure_swallowed, FIXED), (Rule.nonblocking_default, FIXED)],
            "      - run: $(which trivy) fs --exit-code 1 .\n",
        ),
        (
            '      - run: $(find ~ -name "dependency-check.sh") --scan .\n',
            [(Rule.nonblocking_default, OPEN)],
            None,
        ),
        ("      - run: $(find . -name build.sh) || true\n", [], None),
        # horusec exits 0 on findings unless --return-error; a quoted value is still a value
        (
            '      - run: horusec start -p="./" -e="false"\n',
            [(Rule.success_flag, FIXED)],
            '      - run: horusec start -p="./" -e=true\n',
        ),
        (
            "      - run: horusec start -p .\n",
            [(Rule.nonblocking_default, FIXED)],
            "      - run: horusec start --return-error -p .\n",
        ),
        ("      - run: horusec version || true\n", [], None),
        (
            '      - run: trivy fs --exit-code="0" .\n',
            [(Rule.success_flag, FIXED)],
            "      - run: trivy fs --exit-code=1 .\n",
        ),
        # docker scout cves exits 0 on findings without --exit-code (CDB's security-scan.yml)
        (
            "      - run: docker scout cves redis:7 --severity critical,high > scan.txt || true\n",
            [(Rule.failure_swallowed, FIXED), (Rule.nonblocking_default, FIXED)],
            "      - run: docker scout cves --exit-code redis:7 --severity critical,high > scan.txt\n",
        ),
        (
            "      - run: docker scout cves --exit-code=false app:1\n",
            [(Rule.success_flag, FIXED)],
            "      - run: docker scout cves --exit-code=true app:1\n",
        ),
        ("      - run: docker scout cves -e app:1\n", [], None),
        (
            "      - run: docker-scout cves app:1\n",
            [(Rule.nonblocking_default, FIXED)],
            "      - run: docker-scout cves --exit-code app:1\n",
        ),
        (
            "      - uses: docker/scout-action@v1\n        with:\n          command: cves\n          exit-code: false\n",
            [(Rule.success_input, FIXED)],
            "      - uses: docker/scout-action@v1\n        with:\n          command: cves\n          exit-code: true\n",
        ),
        # an overview, an SBOM, the version and other docker commands are no gate
        ("      - run: docker scout quickview app:1 || true\n", [], None),
        ("      - run: docker scout sbom app:1 > sbom.json || true\n", [], None),
        ("      - run: docker scout version || true\n", [], None),
        ("      - run: docker build -t app:1 . || true\n", [], None),
    ],
)
def test_scanner_is_found_and_hardened(
    step: str, expected: list[tuple[Rule, Status]], after: str | None
) -> None:
    result = harden(HEAD + step, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == expected
    assert result.hardened == HEAD + (after if after is not None else step)


@pytest.mark.parametrize(
    ("script", "hardened"),
    [
        # a summary, then the report: only the last run of the same scan gets the blocking default,
        # so the report is written before the step fails
        (
            "grype dir:b --name x\ngrype dir:b -o json --name x > r.json\n",
            "grype dir:b --name x\ngrype --fail-on low dir:b -o json --name x > r.json\n",
        ),
        (
            "semgrep scan --config auto\nsemgrep scan --config auto --json -o s.json\n",
            "semgrep scan --config auto\nsemgrep scan --error --config auto --json -o s.json\n",
        ),
        # different targets are different scans
        ("grype dir:a\ngrype dir:b\n", "grype --fail-on low dir:a\ngrype --fail-on low dir:b\n"),
    ],
)
def test_one_scan_run_twice_in_a_step_blocks_on_its_last_run(script: str, hardened: str) -> None:
    def step(body: str) -> str:
        return HEAD + "      - run: |\n" + "".join("          " + line + "\n" for line in body.splitlines())

    first = harden(step(script), "t.yml", write=True)
    assert first.hardened == step(hardened)
    assert harden(first.hardened, "t.yml", write=True).findings == ()


@pytest.mark.parametrize(
    ("script", "found"),
    [
        ('./wizcli iac scan --path . --policy "Default IaC policy"', True),
        ("wizcli docker scan --image app:1 --policy p --output sarif > wiz.sarif", True),
        ("wizcli dir scan --path . --name repo", True),
        ("wizcli scan dir . --json-output-file wiz-dir.json", True),
        ("~/wizcli scan container-image app:1 --json-output-file r.json", True),
        # no scans: authentication, tagging an image, the version
        ("./wizcli auth --id $ID --secret $SECRET", False),
        ("wizcli docker tag --image app:1", False),
        ("wizcli version", False),
        (
            "curl -o wizcli https://downloads.wiz.io/wizcli/latest/wizcli-linux-amd64 && chmod +x wizcli",
            False,
        ),
    ],
)
def test_wizcli_scans_are_recognised(script: str, found: bool) -> None:
    """Wiz CLI exits 4 on a policy violation, so a scan blocks as written: only its soft-fails (here
    ``|| true`` and continue-on-error) are findings, and nothing is added to the command."""
    step = f"      - run: {script} || true\n        continue-on-error: true\n"
    result = harden(HEAD + step, "t.yml", write=True)
    rules = [f.rule for f in result.findings]
    if not found:
        assert rules == [Rule.non_security_continue]
        assert result.hardened == HEAD + step
        return
    assert rules == [Rule.failure_swallowed, Rule.step_continue_on_error]
    assert {f.tool for f in result.findings} == {"wizcli"}
    assert result.hardened == HEAD + f"      - run: {script}\n"


_WIZ_LOOP = (
    "      - id: wiz\n        continue-on-error: true\n        run: |\n"
    "          for IMAGE in $IMAGES; do\n"
    "            JSON_FILE=\"/tmp/wiz-scan-$(echo $IMAGE | tr '/:' '__').json\"\n"
    '            ./wizcli scan container-image "$IMAGE" --json-output-file "$JSON_FILE"\n'
    "          done\n"
)


@pytest.mark.parametrize(
    ("reader", "status"),
    [
        # the gate reads the reports by the glob their names were built from: gated
        (
            '          for f in /tmp/wiz-scan-*.json; do jq -e ".result.analytics.vulnerabilities.criticalCount'
            ' == 0" "$f" || exit 1; done\n',
            Status.gated,
        ),
        # another glob, or a glob too short to tell a report by: no gate, continue-on-error goes
        ('          for f in /tmp/trivy-*.json; do jq -e ". == []" "$f" || exit 1; done\n', FIXED),
        ('          for f in /tmp/*.json; do jq -e ". == []" "$f" || exit 1; done\n', FIXED),
    ],
)
def test_a_report_named_through_a_variable_is_read_by_its_glob(reader: str, status: Status) -> None:
    """``--json-output-file "$JSON_FILE"`` with ``JSON_FILE=/tmp/wiz-scan-$(...).json`` set before it
    in the same loop: the report is known as ``wiz-scan-*.json`` (modelled on a public wiz.yml)."""
    text = HEAD + _WIZ_LOOP + "      - name: Check the Wiz results\n        run: |\n" + reader
    result = harden(text, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.step_continue_on_error, status)]
