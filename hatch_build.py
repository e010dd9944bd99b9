"""Wheel build hook: compile the risk engine's fast evaluation (cdbctl/risk/native.c) where a C compiler is.

Without a compiler (or with CDBCTL_PURE_PYTHON=1) the wheel is pure Python and the engine runs the
generated Python function, with the same decisions (cdbctl/risk/native.py). The module is stamped with
the sha256 of its sources so a stale build is never used.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = "native*.[ch]"  # the C sources in cdbctl/risk/, hashed as cdbctl/risk/native.py hashes them
# IEEE double arithmetic exactly as Python's: no fused multiply-add, no fast-math reassociation
FLAGS = ["-O2", "-fPIC", "-shared", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-fvisibility=hidden"]


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles cdbctl/risk/native.c into cdbctl/risk/_native<EXT_SUFFIX>."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("CDBCTL_PURE_PYTHON") == "1":
            return
        folder = Path(self.root, "cdbctl", "risk")
        name = "_native" + sysconfig.get_config_var("EXT_SUFFIX")
        if version == "editable":  # the package is imported from the source tree
            out = folder / name
        else:  # built aside, copied into the wheel, removed in finalize
            self._scratch = tempfile.mkdtemp(prefix="cdbctl-native-")
            out = Path(self._scratch) / name
        if not self._compile(folder, out):
            return
        if version != "editable":
            build_data["force_include"][str(out)] = f"cdbctl/risk/{name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_scratch", None):
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _compile(self, folder: Path, out: Path) -> bool:
        compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
        if shutil.which(compiler[0]) is None:
            self.app.display_warning(f"cdbctl: no C compiler ({compiler[0]}): the risk engine is pure Python")
            return False
        digest = hashlib.sha256()
        for path in sorted(folder.glob(SOURCES)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        include = sysconfig.get_paths()["include"]
        tmp = out.with_name(out.name + ".tmp")
        cmd = [*compiler, *FLAGS, f'-DNATIVE_SOURCE_HASH="{digest.hexdigest()}"', f"-I{include}",
               str(folder / "native.c"), "-o", str(tmp), "-lm"]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            self.app.display_warning(
                "cdbctl: compiling the risk engine failed, it stays pure Python:\n" + result.stderr[-2000:]
            )
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, out)  # atomic: a running process never sees half a module
        return True
