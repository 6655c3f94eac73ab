"""conmon's argv and its sync-pipe messages (pure: no conmon runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.runtime import conmon

BASE = dict(
    conmon="/usr/bin/conmon",
    runtime=Path("/usr/sbin/runc"),
    runtime_root=Path("/run/kp/runtime"),
    cid="abc123",
    name="web_app",
    bundle=Path("/var/lib/kp/pods/u1/app"),
    pidfile=Path("/run/kp/c/abc123/pidfile"),
    conmon_pidfile=Path("/run/kp/c/abc123/conmon.pid"),
    log_path=Path("/var/log/kp/app.log"),
    exit_dir=Path("/run/kp/exits"),
    persist_dir=Path("/run/kp/c/abc123"),
    socket_dir=Path("/run/kp/sock"),
    tty=False,
    stdin=False,
)

COMMON = [
    "/usr/bin/conmon",
    "--api-version", "1",
    "-c", "abc123",
    "-u", "abc123",
    "-r", "/usr/sbin/runc",
    "-b", "/var/lib/kp/pods/u1/app",
    "-p", "/run/kp/c/abc123/pidfile",
    "-n", "web_app",
    "--exit-dir", "/run/kp/exits",
    "--persist-dir", "/run/kp/c/abc123",
    "-l", "k8s-file:/var/log/kp/app.log",
    "--socket-dir-path", "/run/kp/sock",
    "--full-attach",
    "--runtime-arg", "--root=/run/kp/runtime",
]  # fmt: skip
TAIL = ["-P", "/run/kp/c/abc123/conmon.pid", "--log-level", "error"]
RUNTIME_LOG = [
    "--runtime-arg", "--log-format=json", "--runtime-arg", "--log=/run/kp/c/abc123/oci-log"
]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({}, [*COMMON, *TAIL], id="plain"),
        pytest.param({"tty": True}, [*COMMON, *TAIL, "-t"], id="tty"),
        pytest.param({"stdin": True}, [*COMMON, *TAIL, "-i"], id="stdin"),
        pytest.param({"tty": True, "stdin": True}, [*COMMON, *TAIL, "-t", "-i"], id="tty-stdin"),
        pytest.param(
            {"runtime_log": Path("/run/kp/c/abc123/oci-log")},
            [*COMMON, *RUNTIME_LOG, *TAIL],
            id="runtime-log",
        ),
        pytest.param(
            {"log_level": "debug"},
            [*COMMON, "-P", "/run/kp/c/abc123/conmon.pid", "--log-level", "debug"],
            id="log-level",
        ),
    ],
)
def test_conmon_argv(extra: dict[str, object], expected: list[str]) -> None:
    assert conmon.conmon_argv(**{**BASE, **extra}) == expected  # type: ignore[arg-type]


def test_conmon_argv_keeps_long_paths_whole() -> None:
    # --full-attach: conmon binds the attach socket through /proc/self/fd, no truncation.
    deep = Path("/" + "/".join(["d" * 40] * 5))
    argv = conmon.conmon_argv(**{**BASE, "bundle": deep})  # type: ignore[arg-type]
    assert argv[argv.index("-b") + 1] == str(deep)
    assert "--full-attach" in argv


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b'{"data": 4242}\n', conmon.SyncMessage(4242), id="pid"),
        pytest.param(
            b'{"data": -1, "message": "runc create failed: boom\\n"}\n',
            conmon.SyncMessage(-1, "runc create failed: boom\n"),
            id="failure",
        ),
        pytest.param(b'{"data": 7}', conmon.SyncMessage(7), id="no-newline"),
        pytest.param(b'{"data": 7}\n{"data": 0}\n', conmon.SyncMessage(7), id="first-line"),
        pytest.param(b"", None, id="eof"),
        pytest.param(b"not json\n", None, id="garbage"),
        pytest.param(b'{"pid": 7}\n', None, id="legacy-key"),
        pytest.param(b'{"data": "7"}\n', None, id="data-not-int"),
        pytest.param(b"[1]\n", None, id="not-object"),
    ],
)
def test_parse_sync_message(raw: bytes, expected: conmon.SyncMessage | None) -> None:
    assert conmon.parse_sync_message(raw) == expected


@pytest.mark.parametrize(("data", "ok"), [(1, True), (0, False), (-1, False)])
def test_sync_message_ok(data: int, ok: bool) -> None:
    assert conmon.SyncMessage(data).ok is ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param(
            '{"level":"warning","msg":"w","time":"t"}\n'
            '{"level":"error","msg":"runc create failed: x","time":"t"}\n',
            "runc create failed: x",
            id="error-after-warning",
        ),
        pytest.param(
            '{"level":"error","msg":"first"}\n{"level":"error","msg":"second"}\n',
            "second",
            id="last-error",
        ),
        pytest.param('{"level":"info","msg":"i"}\nnot json\n', "", id="no-error"),
    ],
)
def test_last_runtime_error(text: str, expected: str) -> None:
    assert conmon.last_runtime_error(text) == expected
