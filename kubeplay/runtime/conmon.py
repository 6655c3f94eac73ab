"""conmon's command line and its sync-pipe protocol, as pure functions.

`Runtime.create` spawns conmon with `conmon_argv(...)` and the write end of a pipe named by the
_OCI_SYNCPIPE environment variable. With `--api-version 1`, conmon 2.1.6 writes one JSON line:
`{"data": <container pid>}` once `<runtime> create` succeeded, or
`{"data": -1, "message": "<runtime stderr>"}` when it failed and printed something. conmon
writes nothing (the pipe just closes) when it dies earlier or the runtime failed silently.
Nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SYNC_PIPE_ENV = "_OCI_SYNCPIPE"


def conmon_argv(
    *,
    conmon: str,
    runtime: Path,
    runtime_root: Path,
    cid: str,
    name: str,
    bundle: Path,
    pidfile: Path,
    conmon_pidfile: Path,
    log_path: Path,
    exit_dir: Path,
    persist_dir: Path,
    socket_dir: Path,
    tty: bool,
    stdin: bool,
    runtime_log: Path | None = None,
    log_level: str = "error",
) -> list[str]:
    """conmon's argv to create container `cid` from `bundle` (conmon runs `runtime create`).

    --full-attach makes conmon bind the attach socket in the bundle through /proc/self/fd, so
    the 108-byte sun_path limit never bites and no symlink is made in `socket_dir`.
    `runtime_log` makes the runtime log JSON there (its error is also on its stderr).
    """
    argv = [
        conmon,
        "--api-version", "1",
        "-c", cid,
        "-u", cid,
        "-r", str(runtime),
        "-b", str(bundle),
        "-p", str(pidfile),
        "-n", name,
        "--exit-dir", str(exit_dir),
        "--persist-dir", str(persist_dir),
        "-l", f"k8s-file:{log_path}",
        "--socket-dir-path", str(socket_dir),
        "--full-attach",
        "--runtime-arg", f"--root={runtime_root}",
    ]  # fmt: skip
    if runtime_log is not None:
        argv += ["--runtime-arg", "--log-format=json", "--runtime-arg", f"--log={runtime_log}"]
    argv += ["-P", str(conmon_pidfile), "--log-level", log_level]
    if tty:
        argv.append("-t")
    if stdin:
        argv.append("-i")
    return argv


@dataclass(frozen=True, slots=True)
class SyncMessage:
    """What conmon reported: `data` is the container pid (> 0) or negative on failure."""

    data: int
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.data > 0


def parse_sync_message(raw: bytes) -> SyncMessage | None:
    """The first JSON line conmon wrote, or None if it wrote none (or garbage)."""
    line = raw.split(b"\n", 1)[0].strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), int):
        return None
    message = obj.get("message", "")
    return SyncMessage(data=obj["data"], message=message if isinstance(message, str) else "")


def last_runtime_error(log_text: str) -> str:
    """The last error message in a runtime's --log-format=json log ("" if none).

    runc and crun write one JSON object per line: {"level": "error", "msg": "...", ...}.
    """
    last = ""
    for line in log_text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("level") in ("error", "fatal"):
            msg = obj.get("msg")
            if isinstance(msg, str) and msg:
                last = msg
    return last
