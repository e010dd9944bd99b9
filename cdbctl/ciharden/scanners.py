"""The scanner entries: one ``Tool(...)`` per security tool with how it is invoked and how it is soft-failed.

Adding a scanner is one entry here plus one test; cdbctl/ciharden/registry.py builds its lookups from
these. Sources for the switches: each tool's own documentation (bandit ``--exit-zero``, trivy
``--exit-code``, checkov ``--soft-fail`` and ``soft_fail``, anchore/scan-action ``fail-build``, ZAP actions
``fail_action``, gosec ``-no-fail``, dependency-review-action ``warn-only``, gh-action-pip-audit
``internal-be-careful-allow-failure``).
"""

from __future__ import annotations

from cdbctl.ciharden.model import Command, FlagRule, InputRule, Tool

_EXIT_CODE_ONE = FlagRule(("--exit-code",), bad_values=("0",), good="1")
# ``trivy image --format cyclonedx``: an SBOM, not a vulnerability report
_SBOM_FORMATS = tuple(
    f"{flag}={fmt}" for flag in ("--format", "-f") for fmt in ("spdx", "spdx-json", "cyclonedx", "github")
)
_PROWLER_LISTINGS = (
    "--list-compliance",
    "--list-compliance-requirements",
    "--list-checks",
    "--list-checks-json",
    "--list-services",
    "--list-categories",
    "--list-fixer",
    "--list-fixers",
    "-l",
)

# Any scanner action: an issue budget so large that the scan can never fail (>= 1000) is a soft-fail.
HUGE_BUDGET = InputRule(
    ("max-allowed-issues", "max_allowed_issues", "max-issues", "max_issues", "max-findings"),
    bad="huge",
    good="0",
)

TOOLS: tuple[Tool, ...] = (
    Tool(
        "bandit",
        actions=(
            "pycqa/bandit-action",
            "shundor/python-bandit-scan",
            "tj-actions/bandit",
            "mdegis/bandit-action",
            "jpetrucciani/bandit-check",
            "libertyy/py3-bandit-check",
        ),
        commands=(Command("bandit"),),
        flags=(FlagRule(("--exit-zero",)),),
        inputs=(InputRule(("exit_zero", "exit-zero"), bad="true", good="false"),),
    ),
    Tool(
        "pip-audit",
        actions=("pypa/gh-action-pip-audit",),
        commands=(Command("pip-audit"),),
        inputs=(InputRule(("internal-be-careful-allow-failure",), bad="true", good="false"),),
    ),
    Tool(
        "safety",
        actions=("pyupio/safety-action",),
        commands=(Command("safety", ("check", "scan")),),
        flags=(FlagRule(("--continue-on-error",)),),
    ),
    Tool(
        "semgrep",
        actions=("returntocorp/semgrep-action", "semgrep/semgrep-action"),
        # ``semgrep ci`` fails on blocking findings; ``semgrep scan`` / ``semgrep --config`` only with --error
        commands=(
            Command("semgrep", ("ci",)),
            Command("semgrep", ("scan",), bare_flags=("--config", "-c", "-f"), blocking_switch="--error"),
        ),
    ),
    Tool(
        "gitleaks",
        actions=("gitleaks/gitleaks-action", "zricethezav/gitleaks-action"),
        commands=(Command("gitleaks", ("detect", "protect", "git", "dir", "directory", "stdin")),),
        flags=(_EXIT_CODE_ONE,),
    ),
    Tool(
        "trufflehog",
        actions=("trufflesecurity/trufflehog",),  # the action passes --fail itself
        commands=(Command("trufflehog", blocking_switch="--fail"),),  # the CLI exits 0 on findings
    ),
    Tool(
        "trivy",
        actions=("aquasecurity/trivy-action",),
        commands=(
            Command(
                "trivy",
                (
                    "image",
                    "i",
                    "fs",
                    "filesystem",
                    "config",
                    "conf",
                    "repo",
                    "repository",
                    "rootfs",
                    "sbom",
                    "k8s",
                    "kubernetes",
                    "vm",
                ),
                non_scans=_SBOM_FORMATS,
            ),
        ),
        flags=(_EXIT_CODE_ONE,),
        default_flag="--exit-code 1",
        inputs=(InputRule(("exit-code",), bad="zero", good="1"),),
        default_input=("exit-code", "'1'"),
        sbom_inputs=(("format", ("spdx", "spdx-json", "cyclonedx", "github")),),
    ),
    Tool(
        "grype",
        actions=("anchore/scan-action",),
        commands=(Command("grype", non_scans=("db", "completion", "config", "login")),),
        inputs=(InputRule(("fail-build",), bad="false", good="true"),),
        default_flag="--fail-on low",  # the CLI exits 0 on findings without it
        default_aliases=("-f",),
    ),
    Tool(
        # ``docker scout cves`` exits 0 on findings unless --exit-code (-e) is given (then 2); quickview,
        # compare, recommendations and sbom are no gate. The action's exit-code input defaults to false.
        "docker-scout",
        actions=("docker/scout-action",),
        commands=(Command("docker", ("scout cves",)), Command("docker-scout", ("cves",))),
        flags=(FlagRule(("--exit-code", "-e"), bad_values=("false",), good="true"),),
        default_flag="--exit-code",
        default_aliases=("-e",),
        inputs=(InputRule(("exit-code",), bad="false", good="true"),),
    ),
    Tool(
        "snyk",
        actions=("snyk/actions", "snyk/actions/*"),
        commands=(Command("snyk", ("test", "code test", "container test", "iac test")),),
    ),
    Tool(
        "osv-scanner",
        # the osv-reporter-action beside it is no scan: it reads the scan's results (a gate with
        # --fail-on-vuln, see policy)
        actions=("google/osv-scanner-action", "google/osv-scanner-action/osv-scanner-action"),
        commands=(Command("osv-scanner"),),
        inputs=(InputRule(("fail-on-vuln",), bad="false", good="true"),),
    ),
    Tool(
        "checkov",
        actions=("bridgecrewio/checkov-action",),
        commands=(Command("checkov", non_scans=("--list", "-l")),),
        flags=(FlagRule(("--soft-fail", "-s")),),
        inputs=(InputRule(("soft_fail",), bad="true", good="false"),),
        action_reports=("results.sarif",),
    ),
    Tool(
        "tfsec",
        actions=(
            "aquasecurity/tfsec-action",
            "aquasecurity/tfsec-pr-commenter-action",
            "triat/terraform-security-scan",  # a tfsec wrapper: extra tfsec flags in tfsec_args
        ),
        commands=(Command("tfsec"),),
        flags=(FlagRule(("--soft-fail",)),),
        inputs=(InputRule(("soft_fail",), bad="true", good="false"),),
        args_inputs=("tfsec_args", "additional_args"),
    ),
    Tool(
        "kics",
        actions=("checkmarx/kics-github-action",),
        commands=(Command("kics", ("scan",)),),
        flags=(FlagRule(("--ignore-on-exit",), bad_values=("all", "results"), good="none"),),
        inputs=(InputRule(("ignore_on_exit",), bad="nonempty", good="none"),),
    ),
    Tool(
        "gosec",
        actions=("securego/gosec",),
        commands=(Command("gosec"),),
        flags=(FlagRule(("-no-fail", "--no-fail")),),
        args_inputs=("args",),
    ),
    Tool("govulncheck", actions=("golang/govulncheck-action",), commands=(Command("govulncheck"),)),
    Tool(
        "cargo-audit",
        actions=("rustsec/audit-check", "actions-rs/audit-check"),
        commands=(
            Command("cargo", ("audit",), non_scans=("audit fix",)),
            Command("cargo-audit", ("audit",), non_scans=("audit fix",)),
        ),
    ),
    Tool(
        "npm-audit",
        flags=(FlagRule(("--audit-level",), bad_values=("none",), good="low"),),
        commands=(
            Command("npm", ("audit",), non_scans=("audit fix",)),
            Command("pnpm", ("audit",), non_scans=("--fix",)),
            Command("yarn", ("audit", "npm audit")),
        ),
    ),
    Tool(
        # OWASP Dependency-Check fails only at or above --failOnCVSS (Maven/Gradle failBuildOnCVSS,
        # default 11: never)
        "dependency-check",
        actions=("dependency-check/dependency-check_action",),
        commands=(
            Command("dependency-check"),
            Command("dependency-check.sh"),
            Command("mvn", goals=r"(^|:)dependency-check(-maven)?:(\S+:)?(check|aggregate)$"),
            Command("mvnw", goals=r"(^|:)dependency-check(-maven)?:(\S+:)?(check|aggregate)$"),
            Command("gradle", goals=r"^:?dependencyCheck(Analyze|Aggregate)$"),
            Command("gradlew", goals=r"^:?dependencyCheck(Analyze|Aggregate)$"),
        ),
        flags=(FlagRule(("--failOnCVSS",), bad_values=tuple(str(n) for n in range(11, 100)), good="7"),),
        threshold_flags=("--failOnCVSS", "-DfailBuildOnCVSS", "-PfailBuildOnCVSS"),
        inputs=(InputRule(("failOnCVSS",), bad="huge", good="7"),),
        args_inputs=("args",),
    ),
    Tool(
        "stackhawk",
        actions=("stackhawk/hawkscan-action",),
        commands=(Command("hawk", ("scan",)),),
        inputs=(InputRule(("dryRun", "dry-run"), bad="true", good="false"),),
    ),
    Tool(
        "veracode-pipeline-scan",
        actions=("veracode/veracode-pipeline-scan-action", "veracode/pipeline-scan-action"),
        commands=(Command("pipeline-scan"),),  # java -jar pipeline-scan.jar
        inputs=(InputRule(("fail_build",), bad="false", good="true"),),
    ),
    Tool(
        "prowler",
        actions=("prowler-cloud/prowler-action",),
        # ``prowler aws --list-compliance``, ``--list-checks``, ...: listings, not scans
        commands=(
            Command("prowler", non_scans=_PROWLER_LISTINGS),
            Command("prowler.py", non_scans=_PROWLER_LISTINGS),  # the v2 checkout: python prowler.py
        ),
        flags=(FlagRule(("--ignore-exit-code-3", "-z")),),  # prowler exits 3 on failed checks
    ),
    Tool(
        # horusec exits 0 on findings unless --return-error (-e) is true
        "horusec",
        commands=(Command("horusec", ("start",)),),
        flags=(FlagRule(("--return-error", "-e"), bad_values=("false",), good="true"),),
        default_flag="--return-error",
        default_aliases=("-e",),
        report_flags=("-O", "--json-output-file"),
    ),
    Tool(
        # exits with the number of CVEs found (so it blocks by default)
        "cve-bin-tool",
        actions=("intel/cve-bin-tool-action",),
        commands=(Command("cve-bin-tool"),),
    ),
    Tool(
        "dastardly",
        actions=("portswigger-labs/dastardly-github-action", "portswigger/dastardly-github-action"),
    ),
    Tool(
        "dependency-review",
        actions=("actions/dependency-review-action",),
        inputs=(InputRule(("warn-only",), bad="true", good="false"),),
    ),
    Tool("codeql", actions=("github/codeql-action/analyze",)),
    Tool(
        "zizmor",
        actions=("zizmorcore/zizmor-action", "woodruffw/zizmor-action"),
        commands=(Command("zizmor"),),
    ),
    Tool(
        "bearer",
        actions=("bearer/bearer-action",),
        commands=(Command("bearer", ("scan",)),),
        flags=(_EXIT_CODE_ONE,),
        inputs=(InputRule(("exit-code",), bad="zero", good="1"),),
    ),
    Tool(
        "kubesec",
        actions=("controlplaneio/kubesec-action",),
        commands=(Command("kubesec", ("scan",)),),
        inputs=(InputRule(("exit-code",), bad="zero", good="1"),),
    ),
    Tool(
        "zap",
        actions=("zaproxy/action-*",),
        # the packaged scan scripts, also started with ``docker run ghcr.io/zaproxy/zaproxy ...``
        commands=(Command("zap-baseline.py"), Command("zap-full-scan.py"), Command("zap-api-scan.py")),
        flags=(FlagRule(("-I",)),),  # -I: do not fail on warnings
        args_inputs=("cmd_options",),  # the actions' extra zap-*.py arguments
        report_flags=("-J", "-w", "-r", "-x"),  # JSON, Markdown, HTML, XML reports
        inputs=(InputRule(("fail_action",), bad="false", good="true"),),
        default_input=("fail_action", "true"),
    ),
    Tool("pysa", actions=("facebook/pysa-action",), commands=(Command("pyre", ("analyze",)),)),
    Tool(
        "brakeman",
        commands=(Command("brakeman"),),
        flags=(FlagRule(("--no-exit-on-warn", "--no-exit-on-error")),),
    ),
    Tool("bundler-audit", commands=(Command("bundle-audit"), Command("bundler-audit"))),
    Tool(
        "njsscan",
        actions=("ajinabraham/njsscan-action",),
        commands=(Command("njsscan"),),
        args_inputs=("args",),
    ),
    Tool("mobsfscan", actions=("mobsf/mobsfscan",), commands=(Command("mobsfscan"),), args_inputs=("args",)),
    Tool("msdo", actions=("microsoft/security-devops-action",)),
    Tool("codacy", actions=("codacy/codacy-analysis-cli-action",)),  # max-allowed-issues: see HUGE_BUDGET
    Tool(
        "checkmarx",
        actions=("checkmarx-ts/checkmarx-cxflow-github-action", "checkmarx/ast-github-action"),
        inputs=(InputRule(("break_build",), bad="false", good="true"),),
    ),
    Tool(
        "sysdig",
        actions=("sysdiglabs/scan-action",),
        inputs=(InputRule(("ignore-failed-scan",), bad="true", good="false"),),
    ),
    Tool(
        "clj-holmes",
        actions=("clj-holmes/clj-holmes-action",),
        inputs=(InputRule(("fail-on-result",), bad="false", good="true"),),
    ),
    Tool(
        # Wiz CLI exits 4 when a scan breaks a Wiz CI/CD policy (0 passed, 1 error, 2 bad usage, 3 auth),
        # so it blocks by default; no CLI switch makes it pass (a policy set to audit in Wiz does, which
        # is not in the workflow). v0 subcommands (iac/docker/dir scan) and v1 (scan dir/container-image);
        # ``wizcli auth`` and ``wizcli docker tag`` are no scans.
        "wizcli",
        commands=(
            Command("wizcli", ("iac scan", "docker scan", "dir scan", "scan dir", "scan container-image")),
        ),
        report_flags=("--json-output-file", "--sarif-output-file"),
    ),
)
