"""`cdbctl ci-harden`: make soft-failed security scanners in GitHub Actions workflows blocking again.

Layout: ``registry`` (one entry per scanner with its soft-fail switches), ``shell`` (a small lexer
for ``run:`` scripts), ``locate`` (YAML positions via PyYAML's C composer), ``splice`` (text edits,
verification, diffs), ``harden`` (text -> findings + edits), ``report`` (json/sarif/table rows)
and ``repo`` (discovery and atomic writes: the only module that touches the file system).
"""
