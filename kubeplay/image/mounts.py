"""Overlay mounts of image rootfs, through the mount(2)/umount2(2) syscalls via ctypes.

Called by `store.ImageStore.mount_rootfs`/`unmount_rootfs`; no subprocess (mount(8) costs a
fork+exec per container). Mount data must fit in one page: when the lowerdir list of absolute
layer paths is too long, the caller passes short relative names (`l/<id>` symlinks to the layer
dirs, as podman's overlay driver does) and a directory to resolve them from; the mount then
runs in a forked child that chdirs there first, so kubeplay's own cwd never changes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path

MNT_DETACH = 2
PAGE_SIZE = os.sysconf("SC_PAGESIZE")

_libc = ctypes.CDLL(None, use_errno=True)  # libc, as loaded (no ldconfig run)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.mount.restype = ctypes.c_int
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.umount2.restype = ctypes.c_int


def overlay_data(lowers: Sequence[str], *, upper: str, work: str) -> str:
    """The overlayfs mount data; lowers top first. Raises ValueError on unusable paths."""
    for path in (*lowers, upper, work):
        if any(ch in path for ch in ",:\\\n"):
            raise ValueError(f"path {path!r} has a character overlayfs options cannot carry")
    if not lowers:
        raise ValueError("an overlay needs at least one lower layer")
    return f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work},index=off"


def fits_page(data: str) -> bool:
    """True when the kernel accepts `data` as mount options (one page, with the final NUL)."""
    return len(os.fsencode(data)) < PAGE_SIZE


def mount_overlay(target: Path, data: str, *, cwd: Path | None = None) -> None:
    """mount -t overlay overlay target -o data; relative paths resolve from `cwd` if given."""
    if cwd is None:
        _mount(target, data)
        return
    pid = os.fork()
    if pid == 0:  # child: chdir, mount, report errno as exit status
        code = 0
        try:
            os.chdir(cwd)
            _mount(target, data)
        except OSError as err:
            code = err.errno or errno.EIO
        except BaseException:
            code = errno.EIO
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise OSError(code, os.strerror(code) if code > 0 else "mount helper killed")


def _mount(target: Path, data: str) -> None:
    rc = _libc.mount(b"overlay", os.fsencode(target), b"overlay", 0, os.fsencode(data))
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(target))


def unmount(target: Path, *, lazy: bool = False) -> bool:
    """Unmount `target`; lazily (MNT_DETACH) if busy, or at once with `lazy` (a dead
    container's rootfs: a synchronous overlay unmount can take ~100 ms). False when it was
    not mounted/missing."""
    path = os.fsencode(target)
    if _libc.umount2(path, MNT_DETACH if lazy else 0) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    if err == errno.EBUSY and _libc.umount2(path, MNT_DETACH) == 0:
        return True
    err = ctypes.get_errno() if err == errno.EBUSY else err
    raise OSError(err, os.strerror(err), str(target))


def is_mounted(target: Path) -> bool:
    """True when `target` is a mount point in this mount namespace (/proc/self/mountinfo)."""
    wanted = os.fsencode(target)
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            fields = line.split(b" ")
            if len(fields) > 4 and _unescape(fields[4]) == wanted:
                return True
    return False


def _unescape(field: bytes) -> bytes:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...)."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field)
