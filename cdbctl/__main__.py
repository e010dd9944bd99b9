"""Entry point for ``python -m cdbctl``."""

from cdbctl.cli import main

raise SystemExit(main())
