"""The conventions a compose file follows for its services, so an added service follows them too.

A service scaffold adds reuses what the file's other services share (the application services, those
with a `build`, when there are any): a service-level merge key (`<<: *backoffice`), an environment
merge key (`<<: *service-env`), `logging: *default-logging` (or an `x-*logging*` block with an
anchor), the restart policy and the networks; and every `${VAR...}` expression exactly as the file
(or another layer) already writes it, e.g. `${POSTGRES_USER:-claire_user}` instead of a default of
its own. "Shared" means at least half of those services do it; a tie goes to the first seen.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cdbctl.scaffold.compose_doc import ComposeDoc, cut, scalar, service_span
from cdbctl.scaffold.yamltree import YNode

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}")
# Plain values of the PostgreSQL service's own environment that stand for a variable's default.
_SERVER_DEFAULTS = ("POSTGRES_USER", "POSTGRES_DB")


@dataclass(frozen=True)
class Conventions:
    """What an added service copies from its file (empty: the reference fragment's own choices)."""

    merge: str | None = None  # anchor merged into each service (`<<: *merge`)
    merged_keys: frozenset[str] = frozenset()  # keys that anchor provides (the service does not repeat them)
    env_merge: str | None = None  # anchor merged into each service's environment
    env_keys: frozenset[str] = frozenset()
    restart: str | None = None  # "*alias" or a plain value
    logging: str | None = None  # "*alias"
    networks: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)  # VAR -> "${VAR:-default}" as written

    def var(self, name: str, fallback: str) -> str:
        """The expression for ${name}: the file's own, else `${name<fallback>}` (fallback like ':-cdb')."""
        return self.variables.get(name) or "${" + name + fallback + "}"

    def provides(self, key: str) -> bool:
        """True when the merged anchor already sets this service key."""
        return key in self.merged_keys

    def env_provides(self, key: str) -> bool:
        """True when the merged environment anchor already sets this variable."""
        return key in self.env_keys


def variable_expressions(texts: Iterable[str]) -> dict[str, str]:
    """The first `${VAR...}` expression of each variable in the texts (base layer first)."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _VARIABLE.finditer(text):
            tail = match.group(2) or ""
            # A nested default is not copied half; text YAML would read differently in a plain scalar
            # (": ", " #", quotes) is not copied at all.
            if not any(bad in tail for bad in ("${", ": ", " #", '"', "'")):
                found.setdefault(match.group(1), match.group(0))
    return found


def _alias(node: YNode | None) -> str | None:
    return node.value if node is not None and node.kind == "alias" else None


def _keys(doc: ComposeDoc, anchor: str | None) -> frozenset[str]:
    node = doc.anchors.get(anchor) if anchor else None
    if node is None or node.kind != "map":
        return frozenset()
    keys = {k.value for k, _ in node.items if k.value and k.value != "<<"}
    merged = node.get("<<")
    for src in merged.children if merged is not None and merged.kind == "seq" else [merged]:
        keys |= _keys(doc, _alias(src))
    return frozenset(keys)


def _networks(node: YNode | None) -> tuple[str, ...] | None:
    if node is None or (node.flow and node.kind == "map"):
        return None
    if node.kind == "seq":
        names = [c.value for c in node.children if c.kind == "scalar" and c.value]
        return tuple(names) if len(names) == len(node.children) else None
    if node.kind == "map":
        return tuple(k.value for k, _ in node.items if k.value)
    return None


def _shared(values: Sequence[str | tuple[str, ...] | None], among: int) -> str | tuple[str, ...] | None:
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    value, n = counts.most_common(1)[0]
    return value if 2 * n >= among else None


def _server_defaults(doc: ComposeDoc, services: YNode) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in services.items:
        svc = doc.deref(raw)
        image = (scalar(doc, doc.lookup(svc, "image")) or "") if svc is not None and svc.kind == "map" else ""
        if (
            not re.search(r"(^|/)(postgres|postgis/postgis)(:|@|$)", image.lower())
            and key.value != "postgres"
        ):
            continue
        env = doc.lookup(svc, "environment") if svc is not None else None
        for name in _SERVER_DEFAULTS:
            value = scalar(doc, env.get(name)) if env is not None and env.kind == "map" else None
            if value and "$" not in value and re.fullmatch(r"[A-Za-z0-9_.-]+", value):
                out[name] = "${" + name + ":-" + value + "}"
    return out


def _logging_block(doc: ComposeDoc, services: YNode) -> str | None:
    """An `x-*logging*` block's anchor, when it is defined before the services (an alias must follow it)."""
    for key, value in doc.root.items if doc.root is not None and doc.root.kind == "map" else []:
        named = key.value and key.value.startswith("x-") and "logging" in key.value
        if named and value.anchor and value.end <= services.start:
            return "*" + value.anchor
    return None


def _extension_anchor(doc: ComposeDoc, anchor: str) -> bool:
    """True when anchor is an `x-` block's and does not set `container_name`.

    Services may merge another service (`<<: *core` where `core: &core` is a service): an added service
    merging it would inherit that service's `container_name` (compose refuses two containers of one
    name) and whatever else it sets; only blocks written to be shared are followed.
    """
    root = doc.root
    shared = (
        root is not None
        and root.kind == "map"
        and any(
            key.value and key.value.startswith("x-") and value.anchor == anchor for key, value in root.items
        )
    )
    return shared and "container_name" not in _keys(doc, anchor)


def find_conventions(
    doc: ComposeDoc, services: YNode, exclude: set[str], layer_texts: Sequence[str] = ()
) -> Conventions:
    """The conventions of the file's services (excluding those being added)."""
    candidates: list[YNode] = []
    built: list[YNode] = []
    for key, raw in services.items:
        svc = doc.deref(raw)
        if key.value in exclude or svc is None or svc.kind != "map" or raw.kind == "alias":
            continue
        candidates.append(svc)
        if doc.lookup(svc, "build") is not None:
            built.append(svc)
    pool = built or candidates
    among = len(pool)
    merge = _shared([_alias(s.get("<<")) for s in pool], among)
    envs = [s.get("environment") for s in pool]
    env_merge = _shared(
        [_alias(e.get("<<")) if e is not None and e.kind == "map" else None for e in envs], among
    )
    restart_values = []
    for s in pool:
        node = s.get("restart")
        restart_values.append(
            f"*{node.value}" if node is not None and node.kind == "alias" else scalar(doc, node)
        )
    logging = _shared([f"*{a}" if (a := _alias(s.get("logging"))) else None for s in pool], among)
    networks = _shared([_networks(doc.deref(s.get("networks"))) for s in pool], among)
    merge_name = merge if isinstance(merge, str) and _extension_anchor(doc, merge) else None
    env_name = env_merge if isinstance(env_merge, str) else None
    restart = _shared(restart_values, among)
    # The excluded services' own expressions (scaffold's blocks) are not the file's way of writing them.
    text = cut(doc.text, [service_span(doc, services, name) for name in exclude])
    variables = {**_server_defaults(doc, services), **variable_expressions([*layer_texts, text])}
    return Conventions(
        merge=merge_name,
        merged_keys=_keys(doc, merge_name),
        env_merge=env_name,
        env_keys=_keys(doc, env_name),
        restart=restart if isinstance(restart, str) else None,
        logging=(logging if isinstance(logging, str) else None) or _logging_block(doc, services),
        networks=networks if isinstance(networks, tuple) else (),
        variables=variables,
    )
