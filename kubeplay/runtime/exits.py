"""conmon's exit files: reading one, and waiting for one to appear.

When a container's main process ends, conmon writes its exit code ("3", or 128+N after signal
N, or "-1" if it could not tell) to <exit dir>/<container id>, by writing a temporary file in
that directory and renaming it into place; it writes an "oom" file in the container's persist
dir first when the kernel OOM-killed it. `read_exit_file` costs a few syscalls and no
subprocess (status of 50 pods must stay fast); `wait_for_file` uses inotify on the directory.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass
from pathlib import Path

from kubeplay.log import get_logger

log = get_logger(__name__)

# Polling interval when inotify is unavailable.
_POLL_INTERVAL = 0.02


@dataclass(frozen=True, slots=True)
class ContainerExit:
    exit_code: int  # 128+N when killed by signal N (as conmon reports), or the code
    finished_at: float  # epoch seconds (exit file mtime)
    oom_killed: bool  # conmon's persist-dir "oom" file present


def parse_exit_code(text: str) -> int | None:
    """The exit code in an exit file's text; None while it is empty or not a number."""
    try:
        return int(text.strip())
    except ValueError:
        return None


def read_exit_file(path: str | Path, *, oom_file: str | Path | None) -> ContainerExit | None:
    """The exit recorded at `path`, or None if there is none (yet)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        mtime = os.fstat(fd).st_mtime
        code = parse_exit_code(os.read(fd, 64).decode("ascii", "replace"))
    finally:
        os.close(fd)
    if code is None:
        return None
    oom = oom_file is not None and os.path.lexists(oom_file)
    return ContainerExit(exit_code=code, finished_at=mtime, oom_killed=oom)


def persist_link(socket_dir: Path, cid: str) -> Path:
    """Where `Runtime.create` links a container's conmon persist dir (it holds `oom`)."""
    return socket_dir / f"{cid}.persist"


def read_exit(exits_dir: Path, socket_dir: Path, cid: str) -> ContainerExit | None:
    """The exit conmon recorded for `cid`, or None while it runs: files only, no runtime.
    Plain string paths (`persist_link`'s, spelt out): the supervisor reads the exit of every
    container of every pod at each resync, and pathlib's joins cost more than the syscall."""
    return read_exit_file(f"{exits_dir}/{cid}", oom_file=f"{socket_dir}/{cid}.persist/oom")


class _Inotify:
    """A `watch.DirWatch` on one directory, waited on with a timeout (blocking callers).
    Imported on first use: reading exit files, as `get pods` does, needs no inotify."""

    def __init__(self, directory: Path) -> None:
        from kubeplay.runtime.watch import DirWatch

        self._watch = DirWatch([directory])
        self.fd = self._watch.fd

    def names(self, timeout: float) -> list[str] | None:
        """Names of entries touched within `timeout` s; None if nothing happened."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        # poll() takes a C int of milliseconds: wait at most an hour per call (callers loop).
        if not poller.poll(min(max(timeout, 0.0), 3600.0) * 1000):
            return None
        return [name for _directory, name in self._watch.names()]

    def close(self) -> None:
        self._watch.close()


def wait_for_file(
    directory: Path, name: str, *, timeout: float, oom_file: Path | None
) -> ContainerExit | None:
    """Wait up to `timeout` s for the exit file `directory/name`; None on timeout."""
    deadline = time.monotonic() + timeout
    path = directory / name
    try:
        watch: _Inotify | None = _Inotify(directory)
    except OSError as err:
        log.debug("exit_watch_polling", directory=str(directory), error=str(err))
        watch = None
    try:
        while True:
            # Check after the watch exists, so a file written in between is not missed.
            found = read_exit_file(path, oom_file=oom_file)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if watch is None:
                time.sleep(min(_POLL_INTERVAL, left))
            else:
                watch.names(left)
    finally:
        if watch is not None:
            watch.close()
