"""The risk engine as one wheel: cdbctl/risk and the cdbctl modules it imports, byte-reproducible.

Only the service that evaluates signals installs it (its requirements.txt names the file with its
sha256, installed by `pip install --require-hashes`). The same engine sources give the same bytes on
every machine: entries sorted, fixed timestamps and modes, stored without compression (deflate output
differs between zlib builds, e.g. zlib-ng), so `--check` stays clean and the hash stays true.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from cdbctl.errors import InternalError

ENGINE_PACKAGE = "cdbctl/risk/"
DIST = "cdbctl_risk"  # the distribution name as a wheel file name spells it (short: paths fit 80 columns)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_WHEEL = "Wheel-Version: 1.0\nGenerator: cdbctl scaffold\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


@dataclass(frozen=True, repr=False)
class EngineWheel:
    """The built wheel: its file name, bytes and the package files inside it."""

    filename: str
    data: bytes
    files: tuple[str, ...]

    def __repr__(self) -> str:
        return f"EngineWheel({self.filename}, {len(self.files)} files, sha256:{self.sha256[:12]})"

    @property
    def sha256(self) -> str:
        """Hex sha256 of the wheel (what requirements.txt pins)."""
        return hashlib.sha256(self.data).hexdigest()


def _module_file(module: str, package: Mapping[str, bytes]) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in package:
            return candidate
    return None


def _module_of(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _imports(path: str, source: bytes) -> set[str]:
    """Every cdbctl module a file names in an import, wherever the import is (lazy ones too)."""
    module = _module_of(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from cdbctl.risk import formulas` imports a module, `from x import name` a name.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "cdbctl" or name.startswith("cdbctl.")}


def engine_files(package: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files (cdbctl/...) the engine needs: cdbctl/risk, everything it imports, their packages."""
    todo = sorted(p for p in package if p.startswith(ENGINE_PACKAGE))
    if f"{ENGINE_PACKAGE}__init__.py" not in todo:
        raise InternalError("cdbctl installation is incomplete: cdbctl/risk/__init__.py is missing")
    needed: set[str] = set()
    while todo:
        path = todo.pop()
        if path in needed:
            continue
        needed.add(path)
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):  # a module's packages run their __init__ first
            init = "/".join(parts[:i]) + "/__init__.py"
            if init in package:
                todo.append(init)
        for module in _imports(path, package[path]):
            target = _module_file(module, package)
            if target is not None:
                todo.append(target)
    return {p: package[p] for p in sorted(needed)}


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _metadata(version: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {DIST.replace('_', '-')}\n"
        f"Version: {version}\n"
        "Summary: The cdbctl pre-trade risk engine (cdbctl.risk), built by cdbctl scaffold\n"
        "Requires-Python: >=3.11\n"
        "Requires-Dist: msgspec>=0.18\n"
    )


def build_wheel(files: Mapping[str, bytes], version: str) -> EngineWheel:
    """A py3-none-any wheel of the given package files; the same input gives the same bytes."""
    info = f"{DIST}-{version}.dist-info"
    entries = dict(sorted(files.items()))
    entries[f"{info}/METADATA"] = _metadata(version).encode()
    entries[f"{info}/WHEEL"] = _WHEEL.encode()
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries.items())
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            entry.create_system = 3  # Unix, so the mode above is read back
            zf.writestr(entry, data)
    return EngineWheel(f"{DIST}-{version}-py3-none-any.whl", buf.getvalue(), tuple(sorted(files)))
