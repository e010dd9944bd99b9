"""The compiled fast evaluation (``native.c``, the module ``cdbctl.risk._native``), where it can decide a run.

The wheel build compiles it when a C compiler is there (``hatch_build.py``); without one the engine is
the generated Python function alone, with the same decisions. The compiled engine decides untraced runs
of decoded JSON whose rules all have C code (``Rule.native``); any other run is decided by Python, never
signal by signal: one engine per run. A build whose sources differ from the package's (an editable
install whose C or rule table changed since) is never used.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from cdbctl.risk.model import Decision, Signal
from cdbctl.risk.rules import Setup

SOURCES = (
    "native.c",
    "native_decide.h",
    "native_rules.h",
    "native_body.h",
)  # what the build hashes (hatch_build.py)


def source_hash(folder: Path) -> str:
    """sha256 over the C sources, as the build stamps it into the module."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def stale(module: ModuleType, folder: Path) -> str | None:
    """Why a built module does not match the C sources in ``folder`` (None: it does, or they are absent)."""
    if all((folder / name).is_file() for name in SOURCES) and source_hash(folder) != module.SOURCE_HASH:
        return f"stale: {module.__file__} was built from other sources (reinstall cdbctl)"
    return None


@functools.cache
def loaded() -> tuple[ModuleType | None, str | None]:
    """The compiled module, or None and why it is not used."""
    try:
        module = importlib.import_module("cdbctl.risk._native")
    except ImportError:
        return None, "not built (no C compiler when cdbctl was installed)"
    why = stale(module, Path(__file__).parent)
    return (None, why) if why else (module, None)


def unsupported(setup: Setup, traced: bool) -> str | None:
    """Why the compiled engine does not decide this run (None: it does)."""
    module, why = loaded()
    if module is None:
        return why
    if not setup.finite_inputs:
        return "inputs that are not JSON text can hold NaN"
    missing = sorted(setup.on - set((module.TRACED_RULES if traced else module.RULES).split(",")))
    if missing:
        return f"rules without C {'trace' if traced else 'code'} apply: {', '.join(missing)}"
    return None


def build(setup: Setup, traced: bool) -> Callable[[Signal], Decision] | None:
    """The compiled fast evaluation of a run, or None when Python decides it (``unsupported``)."""
    module, _ = loaded()
    if module is None or unsupported(setup, traced) is not None:
        return None
    from cdbctl.risk.decide import native_namespace

    try:
        return module.Engine(native_namespace(setup), traced, len(setup.on))  # type: ignore[no-any-return]
    except OverflowError:  # a config number beyond 2**53 is not exact as a double: Python decides
        return None
