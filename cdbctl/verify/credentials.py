"""Credentials of the stack's Redis and PostgreSQL, found where the stack itself keeps them.

A value comes from a literal, a variable of the service's environment, or a file inside the
container (`$(cat /run/secrets/X)`, `*_FILE` variables). A container path is followed to the host:
`/run/secrets/X` through the service's `secrets:` entry to the top-level secret's `file:` (or
`environment:`), other paths through bind mounts. Nothing here ever formats a secret into a message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cdbctl.verify.compose import ComposeProject
from cdbctl.verify.merge import environment_dict

_FILE_READ = re.compile(
    r"""\$\(\s*(?:cat\s+|<\s*)(["']?)([^"')\s]+)\1\s*\)|`\s*cat\s+(["']?)([^"'`\s]+)\3\s*`"""
)
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))\Z")
# `${NAME}` or `$NAME` without a default (`$$` is a literal dollar): blank when NAME is unset
_PLAIN_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_REQUIREPASS = re.compile(r"""--requirepass(?:\s+|=)("(?:[^"\\]|\\.)*"|'[^']*'|\$\([^)]*\)|`[^`]*`|\S+)""")

# `redis-server /path/redis.conf`: the server's first argument when it ends in .conf
_CONFIG_FILE = re.compile(r"(?:^|[\s/])(?:redis|valkey|keydb)-server\s+(/\S+\.conf)\b")
_CONF_REQUIREPASS = re.compile(r"^[ \t]*requirepass[ \t]+(\S+)[ \t]*$", re.MULTILINE)

ReadFile = Callable[[Path], str]


@dataclass(frozen=True, slots=True)
class Secret:
    """A resolved value, or why it could not be resolved (`problem`, safe to print)."""

    value: str | None = None
    problem: str | None = None


NONE = Secret()


def read_secret_file(path: Path) -> str:
    """A secret file's text without trailing newlines, as `$(cat f)` and the images' *_FILE read it."""
    return path.read_text(encoding="utf-8").rstrip("\n")


@dataclass(frozen=True, slots=True)
class ServiceSecrets:
    """Resolves values of one service: its environment, its secrets, its bind mounts."""

    project: ComposeProject
    name: str
    read: ReadFile = read_secret_file

    @property
    def service(self) -> dict[str, Any]:
        """The service definition."""
        return self.project.services[self.name]

    @property
    def environment(self) -> dict[str, str]:
        """The service's container environment (env_file and environment merged)."""
        return environment_dict(self.service.get("environment"))

    def variable(self, name: str) -> Secret:
        """The value of NAME, else the contents of the file NAME_FILE (or NAME__FILE) names."""
        env = self.environment
        if env.get(name):
            return Secret(env[name])
        for file_var in (f"{name}_FILE", f"{name}__FILE"):
            if env.get(file_var):
                return self.container_file(env[file_var], f"{file_var}")
        return NONE

    def expression(self, text: str) -> Secret:
        """A shell word: `$(cat FILE)`, `$VAR`, `${VAR}`, quoted or not, or a literal."""
        word = text.strip()
        if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
            if word[0] == "'":
                return Secret(word[1:-1])
            word = word[1:-1]
        read = _FILE_READ.fullmatch(word)
        if read:
            return self.container_file(read.group(2) or read.group(4), "the command")
        var = _VARIABLE.fullmatch(word)
        if var:
            return self.variable(var.group(1) or var.group(2))
        return Secret(word)

    def container_file(self, path: str, source: str) -> Secret:
        """Read a file the container sees at `path`, from where it lives on this host."""
        host = self.host_path(path)
        if isinstance(host, Secret):
            return host
        try:
            return Secret(self.read(host))
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            unset = self.unset_variables(path)
            if unset:  # CDB's `file: ${SECRETS_PATH}/X` with SECRETS_PATH unset reads /X: say why
                reason += f"; {', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set"
            return Secret(problem=f"cannot read secret file {host} ({path} in {source}): {reason}")
        except UnicodeDecodeError:
            return Secret(problem=f"secret file {host} ({path} in {source}) is not UTF-8 text")

    def host_path(self, path: str) -> Path | Secret:
        """The host file behind a container path, or a Secret carrying a value (environment) or problem."""
        target = PurePosixPath(path)
        for entry in self.service.get("secrets") or []:
            source, mount = _mount(entry, "/run/secrets")
            if mount == target:
                return self._resource("secrets", source, path)
        for entry in self.service.get("configs") or []:
            source, mount = _mount(entry, "/")
            if mount == target:
                return self._resource("configs", source, path)
        for entry in self.service.get("volumes") or []:
            host, inside = _bind(entry)
            if host is not None and inside is not None and (target == inside or inside in target.parents):
                return Path(host) / target.relative_to(inside)
        return Secret(problem=f"{path} is neither a secret nor a bind mount of service {self.name}")

    def unset_variables(self, path: str) -> list[str]:
        """Variables without a default that the `file:` behind a container path uses and nobody set."""
        target = PurePosixPath(path)
        names: list[str] = []
        for kind, directory in (("secrets", "/run/secrets"), ("configs", "/")):
            for entry in self.service.get(kind) or []:
                source, mount = _mount(entry, directory)
                if mount != target:
                    continue
                for f in self.project.files:
                    items = f.data.get(kind)
                    spec = items.get(source) if isinstance(items, dict) else None
                    raw = spec.get("file") if isinstance(spec, dict) else None
                    for m in _PLAIN_VARIABLE.finditer(str(raw or "")):
                        name = m.group(1) or m.group(2)
                        if not self.project.environment.get(name) and name not in names:
                            names.append(name)
        return names

    def _resource(self, kind: str, source: str, path: str) -> Path | Secret:
        items = self.project.secrets if kind == "secrets" else self.project.configs
        spec = items.get(source)
        if not isinstance(spec, dict):
            return Secret(problem=f"{path}: no top-level {kind[:-1]} {source!r} in the compose files")
        if spec.get("file"):
            return Path(str(spec["file"]))
        if spec.get("environment"):
            value = self.project.environment.get(str(spec["environment"]))
            if value is None:
                return Secret(
                    problem=f"{path}: variable {spec['environment']} of {kind[:-1]} {source!r} is unset"
                )
            return Secret(value)
        if spec.get("content") is not None:
            return Secret(str(spec["content"]))
        return Secret(
            problem=f"{path}: {kind[:-1]} {source!r} is external; pass the password with --endpoint"
        )


def _mount(entry: Any, directory: str) -> tuple[str, PurePosixPath]:
    """(source, path in the container) of a service's secrets/configs entry, short or long syntax."""
    if isinstance(entry, dict):
        source = str(entry.get("source", ""))
        target = str(entry.get("target") or source)
    else:
        source = target = str(entry)
    path = PurePosixPath(target)
    return source, path if path.is_absolute() else PurePosixPath(directory) / path


def _bind(entry: Any) -> tuple[str | None, PurePosixPath | None]:
    """(host path, container path) of a bind mount, (None, None) for named volumes and the rest."""
    if isinstance(entry, dict):
        if entry.get("type") != "bind":
            return None, None
        return str(entry.get("source")), PurePosixPath(str(entry.get("target")))
    parts = str(entry).split(":")
    if len(parts) >= 2 and parts[0].startswith("/"):
        return parts[0], PurePosixPath(parts[1])
    return None, None


def command_text(service: Mapping[str, Any]) -> list[str]:
    """The words of `entrypoint` and `command` (a string is split as Compose splits it), as text."""
    words: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, str):
            # `command: /bin/sh -c "redis-server --requirepass $$REDIS_PASSWORD"` is the list Compose runs,
            # [/bin/sh, -c, "redis-server ..."]: unsplit, the password read was `$REDIS_PASSWORD"`
            try:
                words += shlex.split(value)
            except ValueError:  # an unclosed quote: Compose refuses it; read it as written
                words.append(value)
        elif isinstance(value, list):
            words += [str(w) for w in value if isinstance(w, str | int | float) and not isinstance(w, bool)]
    return words


def redis_password(secrets: ServiceSecrets) -> Secret:
    """`--requirepass X` of the server command, else `requirepass` of a mounted config file given to
    the server, else REDIS_PASSWORD (or REDIS_PASSWORD_FILE)."""
    words = command_text(secrets.service)
    for i, word in enumerate(words):
        # A word of its own (exec form: a list, or a string Compose splits) reaches the server as written:
        # no shell expands `$${X}` there, so the password is the text `${X}` (CDB's tls.yml does that).
        if word == "--requirepass" and i + 1 < len(words):
            return Secret(words[i + 1])
        if word.startswith("--requirepass="):
            return Secret(word.partition("=")[2])
        found = _REQUIREPASS.search(word)  # inside a shell script (`sh -c "..."`): the shell expands it
        if found:
            return secrets.expression(found.group(1))
    conf = _CONFIG_FILE.search(" ".join(words))
    if conf:
        text = secrets.container_file(conf.group(1), "the command")
        if text.value is not None:
            setting = _CONF_REQUIREPASS.search(text.value)
            return Secret(setting.group(1).strip("\"'")) if setting else NONE
        if not isinstance(secrets.host_path(conf.group(1)), Secret):  # mounted, yet unreadable
            return text
    return secrets.variable("REDIS_PASSWORD")


_TLS_PORT = re.compile(r"--tls-port(?:\s+|=)[\"']?(\d{1,5})\b")
_TLS_CA = re.compile(r"--tls-ca-cert-file(?:\s+|=)[\"']?([^\s\"';]+)")


@dataclass(frozen=True, slots=True)
class RedisTls:
    """Whether the server speaks TLS on a port, and the host file of the CA its certificate is from."""

    tls: bool = False
    ca_file: str | None = None
    problem: str | None = None


def redis_tls(secrets: ServiceSecrets, container_port: int) -> RedisTls:
    """TLS on this port when the server command says `--tls-port <port>` (CDB's tls.yml: --tls-port 6379
    --port 0); the CA from `--tls-ca-cert-file`, followed through the service's mounts to this host."""
    text = " ".join(command_text(secrets.service))
    port = _TLS_PORT.search(text)
    if port is None or int(port.group(1)) != container_port:
        return RedisTls()
    ca = _TLS_CA.search(text)
    if ca is None:
        return RedisTls(True)  # the system's CAs (SSL_CERT_FILE), as for https
    host = secrets.host_path(ca.group(1))
    if isinstance(host, Secret):
        where = f"{ca.group(1)} in --tls-ca-cert-file"
        return RedisTls(True, problem=f"cannot find the CA file ({where}): {host.problem}")
    if not host.is_file():
        why = f"{host} ({ca.group(1)} in --tls-ca-cert-file) is not a readable file"
        return RedisTls(True, problem=f"cannot read the CA file: {why}")
    return RedisTls(True, str(host))


@dataclass(frozen=True, slots=True)
class PostgresLogin:
    """User, database and password of the PostgreSQL image's environment (or why one is unknown)."""

    user: str
    database: str
    password: Secret


def postgres_login(secrets: ServiceSecrets) -> PostgresLogin:
    """POSTGRES_USER/_DB/_PASSWORD (each also as *_FILE), or Bitnami's POSTGRESQL_* names."""
    bitnami = any(k.startswith("POSTGRESQL_") for k in secrets.environment)
    names = (
        ("POSTGRESQL_USERNAME", "POSTGRESQL_DATABASE", "POSTGRESQL_PASSWORD")
        if bitnami
        else ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD")
    )
    user = secrets.variable(names[0]).value or "postgres"
    database = secrets.variable(names[1]).value or user
    return PostgresLogin(user, database, secrets.variable(names[2]))
