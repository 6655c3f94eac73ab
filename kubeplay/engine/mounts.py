"""Safe paths and the mounts volumes need: openat2, tmpfs, binds from an fd, unmount.

`engine.volumes` calls these to prepare volumes on the host. A path inside a volume (a
subPath) is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so a symlink a
container planted can never lead kubeplay out of the volume, and the bind is made from that
open fd (/proc/self/fd/N), so the path cannot be swapped between the check and the mount
(what kubelet's subpath code does against CVE-2017-1002101). Only syscalls through ctypes, no
subprocess; nothing here decides anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_BENEATH = 0x08
_SYS_OPENAT2 = 437  # the same number on every architecture (new syscall table)

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
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


class PathEscapeError(OSError):
    """A path inside a volume resolves (through a symlink or `..`) to outside of it."""


def _raise(err: int, what: str) -> None:
    if err == errno.EXDEV:
        raise PathEscapeError(err, "resolves outside of its volume", what)
    raise OSError(err, os.strerror(err), what)


def open_beneath(root_fd: int, rel: str, *, flags: int = os.O_PATH) -> int:
    """Open `rel` under the directory `root_fd`; symlinks are followed only while they stay
    beneath it (absolute or escaping ones raise PathEscapeError). Returns a new fd."""
    how = _OpenHow(
        flags=flags | os.O_CLOEXEC, mode=0, resolve=RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
    )
    path = os.fsencode(rel or ".")
    fd = _libc.syscall(
        _SYS_OPENAT2,
        ctypes.c_int(root_fd),
        ctypes.c_char_p(path),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        _raise(ctypes.get_errno(), rel)
    return int(fd)


@contextmanager
def opened(path: Path | str, *, flags: int = os.O_PATH | os.O_DIRECTORY) -> Iterator[int]:
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def opened_beneath(root_fd: int, rel: str, *, flags: int = os.O_PATH) -> Iterator[int]:
    fd = open_beneath(root_fd, rel, flags=flags)
    try:
        yield fd
    finally:
        os.close(fd)


def make_dirs_beneath(root_fd: int, rel: str, *, mode: int = 0o755) -> None:
    """mkdir -p of `rel` under `root_fd`, each step resolved beneath the root (a symlink
    pointing out of it raises PathEscapeError instead of creating anything outside)."""
    parts = [p for p in rel.split("/") if p and p != "."]
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        try:
            os.close(open_beneath(root_fd, prefix, flags=os.O_PATH | os.O_DIRECTORY))
            continue
        except FileNotFoundError:
            pass
        # FileExistsError: made meanwhile, or a dangling symlink the next open checks
        parent_path = "/".join(parts[: depth - 1])
        with (
            opened_beneath(root_fd, parent_path, flags=os.O_PATH) as parent,
            contextlib.suppress(FileExistsError),
        ):
            os.mkdir(parts[depth - 1], mode, dir_fd=parent)
        os.close(open_beneath(root_fd, prefix, flags=os.O_PATH | os.O_DIRECTORY))


def bind_fd(fd: int, target: Path) -> None:
    """Bind-mount what `fd` (an O_PATH fd) refers to onto `target`, creating `target` as
    an empty file or directory to match."""
    is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        target.mkdir(exist_ok=True)
    else:
        target.touch(exist_ok=True)
    source = f"/proc/self/fd/{fd}".encode()
    if _libc.mount(source, os.fsencode(target), None, MS_BIND | MS_REC, None) != 0:
        _raise(ctypes.get_errno(), str(target))


def mount_tmpfs(target: Path, *, size: int | None = None, mode: int = 0o1777) -> None:
    """A tmpfs on `target` (nosuid, nodev), `size` bytes at most (None: the kernel's
    default, half of RAM)."""
    options = f"mode={mode:o}" + (f",size={size}" if size is not None else "")
    flags = MS_NOSUID | MS_NODEV
    rc = _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", flags, options.encode())
    if rc != 0:
        _raise(ctypes.get_errno(), str(target))


def unmount(target: Path) -> bool:
    """Unmount `target` (lazily when busy). False when it was not a mount point."""
    path = os.fsencode(target)
    if _libc.umount2(path, 0) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    if err == errno.EBUSY and _libc.umount2(path, MNT_DETACH) == 0:
        return True
    _raise(ctypes.get_errno() if err == errno.EBUSY else err, str(target))
    return False


def mount_points_under(base: Path, *more: Path) -> list[Path]:
    """Mount points at or under `base` (or any of `more`) in this mount namespace, deepest
    first. One read of mountinfo (the kernel writes every mount of the host into it)."""
    prefixes = [os.fsencode(b) for b in (base, *more)]
    # A line that does not hold the bases' common path, as mountinfo writes it, is no match:
    # one substring search, where splitting and comparing every line of a host with hundreds
    # of mounts took most of a pod's teardown CPU.
    common = _escaped(os.fsencode(os.path.commonpath([base, *more])))
    found: list[Path] = []
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            if common not in line:
                continue
            fields = line.split(b" ")
            if len(fields) < 5:
                continue
            point = _unescape(fields[4])
            if any(point == p or point.startswith(p + b"/") for p in prefixes):
                found.append(Path(os.fsdecode(point)))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def propagation_of(path: Path) -> str:
    """ "shared", "slave" or "private": the propagation of the mount holding `path`."""
    best: tuple[int, str] = (-1, "private")
    target = os.fsencode(os.path.realpath(path))
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            fields = line.split(b" ")
            if len(fields) < 7:
                continue
            point = _unescape(fields[4])
            if target == point or target.startswith(point.rstrip(b"/") + b"/"):
                optional = fields[6 : fields.index(b"-")]
                kind = "private"
                if any(f.startswith(b"shared:") for f in optional):
                    kind = "shared"
                elif any(f.startswith(b"master:") for f in optional):
                    kind = "slave"
                if len(point) >= best[0]:
                    best = (len(point), kind)
    return best[1]


def _escaped(path: bytes) -> bytes:
    """A path as mountinfo writes it (show_path's octal escapes: space, tab, newline and
    backslash)."""
    for char in (b"\\", b" ", b"\t", b"\n"):
        path = path.replace(char, b"\\%03o" % ord(char))
    return path


def _unescape(field: bytes) -> bytes:
    """A mountinfo path field with its octal escapes (`\\040` for a space) undone."""
    if b"\\" not in field:  # nearly every line: no regex
        return field
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field)
