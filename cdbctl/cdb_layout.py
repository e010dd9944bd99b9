"""Where a Claire de Binare checkout keeps what cdbctl finds without being told.

CDB keeps no compose file at its root: its stack is layered files in ``infrastructure/compose``,
``base.yml`` (infrastructure) under ``dev.yml`` (the application services), the pair its
COMPOSE_LAYERS.md calls canonical. scaffold patches them by default and verify names them in its hint.
"""

from __future__ import annotations

from collections.abc import Callable

CDB_COMPOSE_DIR = "infrastructure/compose"
CDB_LAYERS = ("base.yml", "dev.yml")


def cdb_compose_layers(exists: Callable[[str], bool], directory: str = CDB_COMPOSE_DIR) -> list[str] | None:
    """CDB's layered compose files in ``directory`` (a path ``exists`` understands), base first, or None."""
    paths = [f"{directory}/{name}" if directory else name for name in CDB_LAYERS]
    return paths if all(exists(p) for p in paths) else None
