"""Load a YAML document (--config, --instruments) strictly: no silent last-wins, no surprising numbers.

PyYAML keeps the last of two equal keys (`MAX_LEVERAGE: 8` then `20` gives 20) and reads YAML 1.1
numbers such as `8_0` (80), `1:30` (90, sexagesimal) or `0x10`; a risk limit must mean what it
looks like, so each of these is an input error naming the key or value and its line. Deep nesting
(the pure-Python parser recurses per level) is an input error too, never a RecursionError.
"""

from __future__ import annotations

import re
from typing import Any

from cdbctl.errors import InputError

PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _Problem(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _loader_class() -> type[Any]:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader refusing duplicate keys and numbers that are not plain decimals."""

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges: an explicit key may override a merged one (YAML semantics)
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it below
                if first is not None:
                    raise _Problem(f"duplicate key {key!r} (first on line {first})", line)
                seen[key] = line
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

        def _plain(self, node: Any) -> None:
            text = str(node.value)
            if not PLAIN_NUMBER.fullmatch(text):
                raise _Problem(f"{text!r} is not a plain decimal number", node.start_mark.line + 1)

        def construct_yaml_int(self, node: Any) -> int:
            self._plain(node)
            return int(str(node.value))

        def construct_yaml_float(self, node: Any) -> float:
            self._plain(node)
            return float(str(node.value))

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
    return StrictLoader


def load_yaml(text: str, what: str, where: str) -> Any:
    """The parsed document; InputError `what: problem` located at `where:line`."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader_class())  # noqa: S506  # a SafeLoader subclass
    except _Problem as err:
        raise InputError(f"{what}: {err.message}", where=f"{where}:{err.line}") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = err.problem or err.context or "malformed"
        raise InputError(f"malformed {what} YAML: {problem}", where=f"{where}{line}") from None
    except yaml.YAMLError as err:
        raise InputError(f"malformed {what} YAML: {str(err).splitlines()[0]}", where=where) from None
    except RecursionError:
        raise InputError(f"malformed {what} YAML: nested too deeply", where=where) from None
