"""Finding and nudging the running supervisor from a command, without importing it.

The supervisor (`engine.supervisor`) holds a flock under the locks dir and writes its pid
under the run root; a command that changed pods makes a file per key in its wake dir, which
the supervisor watches with inotify. These are the paths and the few file operations every
command needs (`get pods` asks whether one runs, `play` nudges it): they live here so that
those commands do not import the supervisor's asyncio loop, controllers and prober.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay.engine import locks
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.engine.loop import ObjectKey

WAKE_SEPARATOR = "_"  # in no kind, namespace or name: splits a wake file's name
WAKE_MAX_KEYS = 64  # more keys than this: one nudge for a full pass
NAME_MAX = 255
# The supervisor's lock, taken by the command that starts it and handed to it open (so that
# no other command sees none running while it starts): the fd number in its environment.
LOCK_FD_ENV = "KUBEPLAY_SUPERVISOR_LOCK_FD"


def lock_path(settings: Settings) -> Path:
    return settings.locks_dir / "supervisor.lock"


def pid_path(settings: Settings) -> Path:
    return settings.runroot / "supervisor.pid"


def log_path(settings: Settings) -> Path:
    return settings.runroot / "supervisor.log"


def wake_dir(settings: Settings) -> Path:
    return settings.runroot / "supervisor-wake"


def running_pid(settings: Settings) -> int | None:
    """The running supervisor's pid, or None when none holds the lock."""
    if not locks.is_locked(lock_path(settings)):
        return None
    try:
        return int(pid_path(settings).read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(settings: Settings, pid: int) -> None:
    """Record the supervisor's pid (atomically: a reader sees the old file or the new)."""
    path = pid_path(settings)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)


def wake_name(nonce: str, key: ObjectKey | None) -> str:
    """The name of a wake file: a nonce, then the key it names (none: every object)."""
    if key is None:
        return nonce
    name = WAKE_SEPARATOR.join((nonce, key.kind, key.namespace, key.name))
    return name if len(name.encode()) <= NAME_MAX else nonce


def nudge(settings: Settings, keys: Iterable[ObjectKey] | None = None) -> None:
    """Make a running supervisor look now at `keys` (pods played or removed), or at every
    object when `keys` is None: one file per key is made and removed in its wake dir."""
    directory = wake_dir(settings)
    wanted = None if keys is None else sorted(set(keys))
    if wanted is not None and (not wanted or len(wanted) > WAKE_MAX_KEYS):
        wanted = None
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
        nonce = f"{os.getpid()}-{time.monotonic_ns()}"
        for key in wanted if wanted is not None else [None]:
            path = directory / wake_name(nonce, key)
            path.touch()
            path.unlink()
