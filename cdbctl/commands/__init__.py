"""One module per subcommand: parse options, load, call the core, render, return an exit code."""
