"""What the risk commands read: signal inputs, the state, market and instruments files, the layered config.

Shared by `risk evaluate`, `risk explain` and `risk config`. Every problem is an InputError or
UsageError naming the file (and line or field), exit 2 through cli.main, never a traceback; a closed
stdin is an EnvironmentProblem (exit 3), as a closed stdout is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdbctl.errors import EnvironmentProblem, InputError, UsageError

if TYPE_CHECKING:
    from cdbctl.risk.config import ResolvedConfig
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.instruments import InstrumentBook


def signal_names(inputs: list[str] | None) -> list[str]:
    """The INPUT names to read, stdin ('-') when none; UsageError for '-' twice or a terminal on stdin,
    EnvironmentProblem (exit 3) for a closed stdin."""
    names = inputs or ["-"]
    if (dashes := names.count("-")) > 1:
        raise UsageError(f"'-' (stdin) given {dashes} times: stdin can be read only once")
    if "-" in names and sys.stdin is None:  # `<&-`: Python leaves sys.stdin None
        raise EnvironmentProblem("stdin is closed", hint="pass a file, or pipe signals into -")
    if not inputs:
        from cdbctl.output import is_terminal

        if is_terminal(sys.stdin):  # waiting for typed JSON would look like a hang
            raise UsageError(
                "no INPUT given and stdin is a terminal", hint="pass a file or pipe signals into -"
            )
    return names


def signal_sources(names: list[str]) -> Generator[tuple[Callable[[int], bytes], str], None, None]:
    """A byte reader and a label ('<stdin>' or the file name) per input, each file closed after its turn.

    Use it with contextlib.closing, so a file is closed also when the caller stops early.
    """
    for name in names:
        if name == "-":
            stdin = sys.stdin.buffer
            yield getattr(stdin, "read1", stdin.read), "<stdin>"
            continue
        try:
            stream = open(name, "rb")  # noqa: SIM115  # closed below, after the caller's turn
        except OSError as err:
            raise InputError(f"cannot read input: {err.strerror or err}", where=name) from None
        try:
            yield stream.read1, name
        finally:
            stream.close()


def no_signals(names: list[str]) -> InputError:
    """The error for inputs that held not one signal."""
    return InputError("no signals", where=", ".join(n if n != "-" else "<stdin>" for n in names))


def build_engine(
    *,
    state: Path | None,
    market: Path | None,
    config: Path | None,
    sets: list[str] | None,
    now: str | None,
    instruments: Path | None,
    trace: bool,
    stateful: bool = False,
    finite_inputs: bool = False,
) -> Engine:
    """The engine the options describe: config layers resolved, every file read and validated."""
    from cdbctl.risk import load_market, load_state
    from cdbctl.risk.engine import Engine

    resolved = resolve_config(config, sets)
    st = load_state(read_json_file(state, "state"), str(state)) if state else None
    mk = load_market(read_json_file(market, "market"), str(market)) if market else None
    book = read_instruments(instruments) if instruments else None
    signal_clock = now is not None and now.strip().lower() == "signal"
    _warn_if_stale()
    try:
        return Engine(
            resolved.config,
            st,
            mk,
            now=None if signal_clock else _resolve_now(now),
            signal_clock=signal_clock,
            trace=trace,
            stateful=stateful,
            finite_inputs=finite_inputs,
            instruments=book,
        )
    except InputError as err:
        # positions and trades are parsed by the engine: its message names the field, this the file
        if err.where is None and state is not None and err.message.startswith("state"):
            err.where = str(state)
        raise


def _warn_if_stale() -> None:
    """A compiled engine built from other sources is never used: say so (an edited rule table or C
    file in an editable install), since the Python engine decides, correctly but slower."""
    from cdbctl.output import warn
    from cdbctl.risk import native

    module, why = native.loaded()
    if module is None and why is not None and why.startswith("stale"):
        warn(f"the compiled risk engine is {why}; the Python engine decides (same decisions, slower)")


def _resolve_now(now: str | None) -> float | None:
    from cdbctl.risk import resolve_now

    try:
        return resolve_now(now)
    except InputError:
        raise InputError(
            f"--now {now!r} is not an ISO-8601 time with Z or offset, epoch seconds, nor 'signal'"
        ) from None


def read_json_file(path: Path, what: str) -> Any:
    """The decoded JSON document of a --state or --market file (a leading BOM accepted, as for signals)."""
    from cdbctl.risk.jsondoc import decode_document

    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {what} file: {err.strerror or err}", where=str(path)) from None
    return decode_document(data.removeprefix(b"\xef\xbb\xbf"), what, str(path))


def read_instruments(path: Path) -> InstrumentBook:
    """Parse an instruments file (JSON by suffix, else YAML) and validate it; InputError names the field."""
    from cdbctl.risk.instruments import load_instruments

    text = _read_text(path, "instruments")
    data: Any
    if path.suffix.lower() == ".json":
        from cdbctl.risk.jsondoc import decode_document

        data = decode_document(text.encode(), "instruments", str(path))
    else:
        from cdbctl.commands.risk.yaml import load_yaml

        data = load_yaml(text, "instruments", str(path))  # YAML is a superset of JSON: any other suffix
    return load_instruments(data, source=str(path))


def _read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 --instruments or --config file; a leading BOM is dropped."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {what} file: {err}", where=str(path)) from None


def read_config_file(path: Path) -> dict[str, object]:
    """The KEY: value mapping of a --config file (TOML by suffix, else YAML; optionally under `risk:`)."""
    text = _read_text(path, "config")
    data: object
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"malformed TOML: {err}", where=str(path)) from None
    else:
        from cdbctl.commands.risk.yaml import load_yaml

        data = load_yaml(text, "config", str(path))  # duplicate keys, 8_0, deep nesting: input errors
    if data is None:
        return {}
    if isinstance(data, dict) and set(data) == {"risk"} and isinstance(data["risk"], dict):
        data = data["risk"]
    if not isinstance(data, dict):
        got = type(data).__name__
        raise InputError(f"config file must be a mapping of KEY: value, got a {got}", where=str(path))
    for key, value in data.items():
        if isinstance(value, dict | list):
            kind = "mapping" if isinstance(value, dict) else "list"
            raise InputError(f"config file: {key}: must be one value, got a {kind}", where=str(path))
    return {str(k): v for k, v in data.items()}


def resolve_config(config: Path | None, sets: list[str] | None, *, announce: bool = True) -> ResolvedConfig:
    """Defaults < --config file < environment < --set; CDB keys cdbctl ignores are warned about.

    announce: name on stderr each value the shell's environment changed (an ambient export must not
    change a run unseen).
    """
    from cdbctl.risk.config import resolve

    layers: list[tuple[str, dict[str, object], bool]] = []
    if config is not None:
        layers.append((f"config file {config}", read_config_file(config), True))
    layers.append(("environment", dict(os.environ), False))
    overrides: dict[str, object] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set MAX_LEVERAGE=8")
        overrides[key.strip()] = value
    layers.append(("--set", overrides, True))
    resolved = resolve(layers)
    if announce:
        _announce_environment(resolved, resolve([layer for layer in layers if layer[0] != "environment"]))
    for name, source in resolved.unused:
        from cdbctl.output import warn
        from cdbctl.risk.config import UNUSED_CDB_KEYS

        why = UNUSED_CDB_KEYS[name.strip().upper().replace("-", "_")]
        warn(f"{name} ({source}) is a CDB key cdbctl does not use: {why}")
    return resolved


def _announce_environment(resolved: ResolvedConfig, without_env: ResolvedConfig) -> None:
    from cdbctl.output import note

    for key, source in resolved.sources.items():
        value = getattr(resolved.config, key)
        if source.startswith("environment") and value != getattr(without_env.config, key):
            variable = source.removeprefix("environment variable ").strip() or key
            note(f"{key}={value} from environment ({variable})")
