"""`cdbctl verify` under attack: malicious servers on 127.0.0.1, hostile URLs, starved descriptors.

Each test reproduces an attack that once worked (issue 17) and asserts it no longer does. The
servers are real sockets sending crafted replies; the suite grows with every defect found.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdbctl.cli import main
from tests.servers import HOST, HangingServer, RedisServer, ScriptedServer, ServerUnavailable, http_server

pytestmark = pytest.mark.integration

SECRET = "Hunter2SECRET"
NO_SOCKET = "unix:///nonexistent/cdbctl-test/docker.sock"
# ESC ] 0 ; title BEL (retitles the terminal), CSI 31 m (red), the 8-bit CSI, a bidi override.
ESCAPES = "\x1b]0;PWNED\x07\x1b[31m\x9b2J\u202e"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\x00")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory with Docker pointed at a socket that does not exist."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", NO_SOCKET)
    for name in ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def both_formats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """Run as table and as JSON; return the exit code, the JSON and all text both runs printed."""
    code_t, table, err_t = run(capsys, "--no-docker", *args)
    code_j, out, err_j = run(capsys, "--no-docker", *args, "--format", "json")
    assert code_t == code_j
    return code_j, json.loads(out), table + err_t + out + err_j


def redis_replying(*replies: bytes) -> ScriptedServer:
    """A fake Redis: reads a command, sends the next reply, for each reply in turn."""

    def script(conn: socket.socket) -> None:
        for reply in replies:
            conn.recv(65536)
            conn.sendall(reply)

    return ScriptedServer(script)


# --------------------------------------------------------------------------- passwords (item 6)

MALFORMED = [
    f"redis://:{SECRET}@",  # no host
    f"redis://:{SECRET}@127.0.0.1:notaport",
    f"redis://:{SECRET}@127.0.0.1:0",
    f"redis://:{SECRET}@[::1",  # unclosed IPv6 literal
    f"redis://:{SECRET}@[zz]:6379",  # not an IPv6 address
    f"redis://:{SECRET}@127.0.0.1:6379/zero",  # database not a number
    f"redis://:{SECRET} with spaces@127.0.0.1",
    f"redis:/:{SECRET}@127.0.0.1",  # one slash: no scheme://
    f"redi5://:{SECRET}@127.0.0.1",  # unsupported scheme
    f"tcp://:{SECRET}@127.0.0.1",  # tcp needs a port
    f"tcp://:{SECRET}@127.0.0.1:5/path",  # tcp takes no path
    f"redis://:{SECRET}@x@127.0.0.1:99999",  # '@' in the password, port out of range
    f"redis://:{SECRET}/x@127.0.0.1",  # '/' in the password: urlsplit sees no host
    f"postgresql://cdb:{SECRET}{ESCAPES}@127.0.0.1:5432:1/cdb",
    f"redis://:{SECRET}%zz@127.0.0.1:bad",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_never_shows_its_password(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "--no-docker", "-e", f"r={url}")
    assert code == 2, err
    assert "malformed URL" in err or "unsupported URL scheme" in err
    assert SECRET not in out + err
    assert not any(ch in err for ch in UNSAFE)


@pytest.mark.parametrize(
    "value",
    [f"redis://:{SECRET}=1@127.0.0.1", f"redis://:{SECRET}@127.0.0.1", f"bad name=redis://:{SECRET}@h"],
)
def test_an_endpoint_without_a_name_never_shows_its_password(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = run(capsys, "--no-docker", "-e", value)
    assert code == 2, err
    assert SECRET not in out + err


@pytest.fixture(scope="module")
def redis_without_auth() -> Iterator[RedisServer]:
    """A real Redis with AUTH renamed away: it echoes AUTH's arguments in its error."""
    try:
        server = RedisServer.start(extra=["--rename-command", "AUTH", ""])
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_a_real_redis_echoing_the_password_never_shows_it(
    capsys: pytest.CaptureFixture[str], redis_without_auth: RedisServer
) -> None:
    url = f"redis://:{SECRET}@{HOST}:{redis_without_auth.port}/0"
    code, data, text = both_formats(capsys, "-e", f"cache={url}")
    assert code == 1
    assert SECRET not in text
    (check,) = data["checks"]
    assert check["detail"] == "AUTH failed: ERR unknown command 'AUTH' (arguments not shown)"
    assert check["target"] == f"redis://:***@{HOST}:{redis_without_auth.port}/0"


@pytest.mark.parametrize(
    ("replies", "detail"),
    [
        (
            [f"-WRONGPASS the password '{SECRET}' is wrong\r\n".encode()],
            "AUTH failed: WRONGPASS the password '***'",
        ),
        # Echoed percent-encoded, or cut short as Redis cuts long arguments.
        ([b"-ERR bad password 'Hunter2%21SECRET'\r\n"], "AUTH failed: ERR bad password '***'"),
        ([b"+OK\r\n", f"-ERR no db, try redis://:{SECRET}@10.0.0.1/0\r\n".encode()], "SELECT 0 failed: ERR"),
        ([b"+OK\r\n", b"+OK\r\n", f"-ERR {SECRET[:12]}\r\n".encode()], "ERR ***"),
    ],
)
def test_a_server_echoing_the_password_in_any_form_never_shows_it(
    capsys: pytest.CaptureFixture[str], replies: list[bytes], detail: str
) -> None:
    password = SECRET.replace("2", "2!") if b"%21" in replies[0] else SECRET
    with redis_replying(*replies) as server:
        url = f"redis://:{password.replace('!', '%21')}@{HOST}:{server.port}/0"
        code, data, text = both_formats(capsys, "-e", f"cache={url}")
    assert code == 1
    assert SECRET not in text and SECRET[:12] not in text and password not in text
    assert data["checks"][0]["detail"].startswith(detail)


def test_a_url_with_credentials_in_a_server_reply_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    with redis_replying(b"-ERR replica of redis://admin:TopSecret@10.0.0.9:6379 is down\r\n") as server:
        code, data, text = both_formats(capsys, "-e", f"cache=redis://{HOST}:{server.port}")
    assert code == 1
    assert "TopSecret" not in text
    assert data["checks"][0]["detail"] == "ERR replica of redis://admin:***@10.0.0.9:6379 is down"


# ------------------------------------------------------------------ control characters (item 7)


def test_terminal_escapes_in_a_redis_reply_never_reach_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    with redis_replying(f"-ERR {ESCAPES}red\r\n".encode()) as server:
        code, data, text = both_formats(capsys, "-e", f"cache=redis://{HOST}:{server.port}")
    assert code == 1
    assert not any(ch in text for ch in UNSAFE)
    detail = data["checks"][0]["detail"]
    assert not any(ch in detail for ch in UNSAFE)
    assert detail.startswith("ERR ") and "PWNED" in detail and detail.endswith("red")


def test_rich_markup_in_a_reply_is_shown_literally_not_interpreted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # '[/]' closes nothing: as markup it crashed the table (exit 4); '[link=...]' would hide a link.
    reply = b"-ERR [/] [link=file:///etc/passwd]click[/link] [bold]x\r\n"
    with redis_replying(reply) as server:
        code, table, err = run(capsys, "--no-docker", "-e", f"cache=redis://{HOST}:{server.port}")
    assert code == 1, err
    assert "[/] [link=file:///etc/passwd]click[/link] [bold]x" in table


def test_a_bad_http_status_line_with_escapes_is_reported_inert(capsys: pytest.CaptureFixture[str]) -> None:
    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(f"{ESCAPES}\r\n\r\n".encode())

    with ScriptedServer(script) as server:
        code, data, text = both_formats(capsys, "-e", f"api=http://{HOST}:{server.port}/health")
    assert code == 1
    assert data["checks"][0]["detail"].startswith("bad HTTP answer: not an HTTP status line")
    assert not any(ch in text for ch in UNSAFE)


# ------------------------------------------------------------------ wrong results, clear messages


def test_a_redis_database_the_server_does_not_have_is_unhealthy(
    capsys: pytest.CaptureFixture[str], redis_server: RedisServer
) -> None:
    base = f"redis://{HOST}:{redis_server.port}"
    code, data, _ = both_formats(capsys, "-e", f"missing={base}/99", "-e", f"last={base}/15")
    assert code == 1
    details = {c["name"]: (c["status"], c["detail"]) for c in data["checks"]}
    assert details == {
        "missing": ("unhealthy", "SELECT 99 failed: ERR DB index is out of range"),
        "last": ("healthy", "PONG"),
    }


def test_more_than_100_headers_gets_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        headers = "".join(f"X-H{i}: {i}\r\n" for i in range(150))
        conn.sendall(f"HTTP/1.1 200 OK\r\n{headers}Content-Length: 0\r\n\r\n".encode())

    with ScriptedServer(script) as server:
        code, data, _ = both_formats(capsys, "-e", f"api=http://{HOST}:{server.port}/health")
    assert code == 1
    assert (
        data["checks"][0]["detail"]
        == "bad HTTP answer: more than 100 header lines (the limit cdbctl accepts)"
    )


@pytest.mark.parametrize("value", ["1e308", "inf", "86401", "nan", "0", "-1"])
def test_an_out_of_range_timeout_names_both_bounds(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = run(capsys, "--no-docker", "-e", "x=tcp://127.0.0.1:1", "--timeout", value)
    assert code == 2
    assert "--timeout must be above 0 and at most 86400 seconds (one day)" in err


# -------------------------------------------------------------------- output into a closed pipe


def cdbctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "cdbctl", "verify", *args]


def run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before cdbctl writes a byte
    try:
        env = {**os.environ, "DOCKER_HOST": NO_SOCKET}
        return subprocess.run(args, stdout=write_end, stderr=subprocess.PIPE, cwd=cwd, env=env, timeout=60)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("fmt", ["json", "table"])
@pytest.mark.parametrize("status", [200, 503])
def test_a_closed_pipe_exits_141_whatever_the_verdict(tmp_path: Path, fmt: str, status: int) -> None:
    with http_server(status) as server:
        args = cdbctl("--no-docker", "-e", f"api=http://{HOST}:{server.server_port}/", "--format", fmt)
        proc = run_into_closed_pipe(args, tmp_path)
    assert proc.returncode == 141, proc.stderr
    assert b"Traceback" not in proc.stderr and b"Exception ignored" not in proc.stderr


# ------------------------------------------------------------------------ file descriptors (13)


def limited(soft: int) -> Callable[[], None]:
    def apply() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


def test_500_hanging_endpoints_under_ulimit_256_are_timeouts_not_too_many_open_files(tmp_path: Path) -> None:
    with HangingServer() as server:
        args = [a for i in range(500) for a in ("-e", f"h{i}=http://{HOST}:{server.port}/health")]
        proc = subprocess.run(
            cdbctl("--no-docker", "--timeout", "0.3", "--format", "json", *args),
            capture_output=True, text=True, cwd=tmp_path, timeout=300, preexec_fn=limited(256),
            env={**os.environ, "DOCKER_HOST": NO_SOCKET},
        )  # fmt: skip
        assert server.accepted == 500
        assert server.max_open < 256
    assert proc.returncode == 1, proc.stderr
    details = {c["detail"] for c in json.loads(proc.stdout)["checks"]}
    assert details == {"timed out after 0.3 s"}
    assert "Too many open files" not in proc.stderr


RUN_STARVED = textwrap.dedent(
    """
    import io, os, resource, sys
    from cdbctl.cli import main
    args = ["verify", "--no-docker", "-e", "db=tcp://127.0.0.1:%d", "--format", "json"]
    sys.stdout = io.StringIO()
    main(args)  # once with descriptors to spare: every lazy import is done
    sys.stdout = sys.__stdout__
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    hog = []
    try:
        while True:
            hog.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    sys.exit(main(args))
    """
)


def test_a_probe_cdbctl_cannot_open_is_an_environment_error_not_an_unhealthy_service(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        script = RUN_STARVED % listener.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60,
            env={**os.environ, "DOCKER_HOST": NO_SOCKET},
        )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    (check,) = json.loads(proc.stdout)["checks"]
    assert check["status"] == "unknown"
    assert check["detail"] == "not checked: cdbctl itself ran out of file descriptors (Too many open files)"
    assert "cdbctl: error: 1 of 1 checks could not run: not checked: cdbctl itself ran out" in proc.stderr
    assert "hint: raise the open-file limit (ulimit -n)" in proc.stderr


# ---- 18: huge and hostile compose files are refused before they are parsed ----


def test_a_compose_file_over_the_size_limit_is_refused_unparsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cdbctl.verify.compose import MAX_COMPOSE_BYTES

    big = tmp_path / "big.yml"
    service = "  svc{}:\n    image: nginx\n    environment: {{A: '" + "x" * 200 + "'}}\n"
    with big.open("w") as fh:
        fh.write("services:\n")
        for i in range(MAX_COMPOSE_BYTES // 200 + 10):
            fh.write(service.format(i))
    code, out, err = run(capsys, "--no-docker", "-c", str(big))
    assert code == 2 and out == ""
    assert "over the 1,048,576-byte limit" in err and str(big) in err


def test_an_alias_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 8):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    bomb = tmp_path / "bomb.yml"
    bomb.write_text("\n".join(lines) + "\nservices:\n  x:\n    image: nginx\n    environment: {A: *a7}\n")
    code, _, err = run(capsys, "--no-docker", "-c", str(bomb))
    assert code == 2 and "alias bomb" in err


def test_a_fifo_named_as_compose_file_does_not_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "compose.yml"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "--no-docker", "-c", str(fifo))
    assert code == 2 and "compose file" in err


def test_line_lookup_indexes_each_mapping_once() -> None:
    import yaml

    from cdbctl.verify.compose import line_of

    text = "services:\n" + "".join(f"  s{i}:\n    image: x\n" for i in range(3000))
    root = yaml.compose(text)
    assert root is not None
    assert [line_of(root, ("services", f"s{i}", "image")) for i in (0, 1, 2999)] == [3, 5, 6001]
    assert line_of(root, ("services", "nope")) is None
