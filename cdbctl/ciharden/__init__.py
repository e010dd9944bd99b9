"""`cdbctl ci-harden`: make soft-failed security scanners in GitHub Actions workflows blocking again.

Layout: ``registry`` (one entry per scanner with its soft-fail switches), ``shell_lex``/``shell``
(lexer and analysis of ``run:`` scripts, with ``invocation``, ``discard`` and ``nested`` for how a
status gets lost), ``syntax`` (the parse guard every script edit must pass), ``locate`` (YAML
positions via PyYAML's C composer), ``steps``/``continue_on_error``/``defaults`` (findings per step
and job), ``policy``/``readers``/``waivers`` (gates, second runs, waivers), ``splice`` (edits and
their verification), ``hunks`` (the diff from the edits), ``harden`` (text -> findings + edits),
``report``/``rulesdoc`` (output formats and the rule reference) and ``repo`` (discovery, reads and
atomic writes: the only module that touches the file system).
"""
