"""inotify on a few directories, for an event loop: the supervisor learns of conmon's exit
files (and of commands nudging it) the moment they appear, instead of polling.

`DirWatch.fd` is non-blocking: register it with the loop's reader and call `names()` when it
is readable (`exits` waits on one with a timeout). ctypes: the stdlib has no inotify.
Reports names only; what a name means is the caller's business.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT_HEADER = struct.Struct("iIII")
_libc: Any = None


def _load() -> Any:
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)  # libc, as loaded (no ldconfig run)
    return _libc


class DirWatch:
    """Entries created, written or moved into any of `directories`."""

    def __init__(self, directories: Iterable[Path]) -> None:
        import ctypes

        libc = _load()
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd: int = fd
        self._dirs: dict[int, Path] = {}
        mask = _IN_MOVED_TO | _IN_CLOSE_WRITE | _IN_CREATE
        for directory in directories:
            wd = libc.inotify_add_watch(fd, os.fsencode(directory), mask)
            if wd < 0:
                err = ctypes.get_errno()
                os.close(fd)
                raise OSError(err, f"inotify_add_watch {directory} failed")
            self._dirs[wd] = directory

    def names(self) -> list[tuple[Path, str]]:
        """(directory, name) of every event queued now; [] when there is none."""
        found: list[tuple[Path, str]] = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            pos = 0
            while pos + _EVENT_HEADER.size <= len(buf):
                wd, _mask, _cookie, length = _EVENT_HEADER.unpack_from(buf, pos)
                start = pos + _EVENT_HEADER.size
                name = buf[start : start + length].rstrip(b"\0").decode("utf-8", "replace")
                if wd in self._dirs and name:
                    found.append((self._dirs[wd], name))
                pos = start + length

    def close(self) -> None:
        os.close(self.fd)
