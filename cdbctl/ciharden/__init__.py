"""`cdbctl ci-harden`: make soft-failed security scanners in GitHub Actions workflows blocking again.

Layout: ``scanners`` (one entry per scanner with its soft-fail switches) and ``registry`` (the lookups
built from them), ``shell_lex``/``shell`` (lexer and analysis of ``run:`` scripts, with ``invocation``,
``success_flags``, ``report_files``, ``handlers``, ``script_exits``, ``discard`` and ``nested`` for
which scanner runs and how a status gets lost; ``shell_values``, ``indirect`` and ``eval_command``
for what ``eval "$CMD"``, ``bash -c "$CMD"`` and ``"${CMD[@]}"`` run), ``syntax``/``quoting``/
``edit_guard`` (the parse guard every script edit must pass), ``composer``/``locate``/``node_edits``
(YAML positions via PyYAML's C composer, and edits from them; ``merge_conflicts`` names the markers
that broke a file), ``steps``/``step_context``/``action_inputs``/``run_scripts``/``continue_on_error``/
``defaults`` (findings per step and job), ``policy``/``readers``/``waivers`` (gates, second runs,
waivers), ``splice`` (edits and their verification), ``hunks`` (the diff from the edits), ``harden``
(text -> findings + edits), ``report``/``rulesdoc`` (output formats and the rule reference) and
``repo`` (discovery, reads and atomic writes: the only module that touches the file system).
"""
