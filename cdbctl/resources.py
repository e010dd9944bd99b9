"""Locate data shipped with cdbctl (templates/, compose/) in a wheel or a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache  # where the installation keeps its data does not change while the process runs
def _data_dir(name: str) -> Path:
    # In a wheel hatchling force-includes the top-level folders under cdbctl/_data/;
    # in a source checkout or editable install they sit next to the package.
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    return _PKG / "_data" / name


def templates_dir() -> Path:
    """Directory holding the service templates."""
    return _data_dir("templates")


def compose_dir() -> Path:
    """Directory holding the reference CDB compose stack."""
    return _data_dir("compose")
