"""Network namespaces (and the pod's IPC and UTS namespaces) pinned by a bind mount of nsfs,
made without `ip` or a fork.

`create_netns` runs unshare(CLONE_NEWNET) in a short-lived thread: in a multi-threaded process
unshare changes only the calling thread, so the rest of kubeplay stays in the host namespace;
the thread bind-mounts its /proc/thread-self/ns/net onto the target file, brings loopback up
and exits, and the mount keeps the namespace alive (about 0.6 ms). `in_netns` runs a function
in such a thread after setns(), for configuring links from inside the namespace.
`create_namespace` pins a new IPC or UTS namespace the same way (with the pod's hostname set
in a UTS one), so that containers join a pod's namespaces by these paths, never through a
process's /proc/<pid>/ns (a pid may be reused). Called by the engine (and by
links.attach_pod); decides nothing.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kubeplay import log
from kubeplay.errors import NetworkError

T = TypeVar("T")

_log = log.get_logger(__name__)
_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUTS = 0x04000000
_KINDS = {"ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS}
_MS_BIND = 0x1000
_MNT_DETACH = 2
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _fail(what: str, path: Path) -> NetworkError:
    code = ctypes.get_errno()
    return NetworkError(f"netns {path}: {what}: {os.strerror(code)}", errno=code)


def _in_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in a fresh OS thread (its namespace changes die with the thread)."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            result.append(fn())
        except BaseException as err:
            error.append(err)

    thread = threading.Thread(target=body, name="kubeplay-netns")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def is_netns(path: Path) -> bool:
    """True when `path` is a mounted namespace (its device differs from its directory's)."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except FileNotFoundError:
        return False


def create_netns(path: Path) -> None:
    """A new network namespace pinned at `path` (directory created), loopback up.

    Idempotent: a namespace already mounted at `path` is kept as it is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_netns(path):
        return

    def body() -> None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise _fail("unshare", path)
        path.touch()
        source = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
        if _libc.mount(source, bytes(path), b"none", _MS_BIND, None) != 0:
            err = _fail("bind mount", path)
            path.unlink(missing_ok=True)
            raise err
        try:
            _loopback_up()
        except OSError as err:
            raise NetworkError(f"netns {path}: loopback up: {err}", errno=err.errno) from err

    try:
        _in_thread(body)
    except NetworkError:
        remove_netns(path)
        raise
    _log.debug("netns_created", path=str(path))


def create_namespace(path: Path, kind: str, *, hostname: str = "") -> None:
    """A new `kind` ("ipc" or "uts") namespace pinned at `path`; a UTS one gets `hostname`.
    Idempotent as `create_netns`."""
    flag = _KINDS[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_netns(path):
        return

    def body() -> None:
        if _libc.unshare(flag) != 0:
            raise _fail(f"unshare {kind}", path)
        if hostname:
            name = hostname.encode()
            if _libc.sethostname(name, len(name)) != 0:
                raise _fail("sethostname", path)
        path.touch()
        source = f"/proc/self/task/{threading.get_native_id()}/ns/{kind}".encode()
        if _libc.mount(source, bytes(path), b"none", _MS_BIND, None) != 0:
            err = _fail("bind mount", path)
            path.unlink(missing_ok=True)
            raise err

    try:
        _in_thread(body)
    except NetworkError:
        remove_netns(path)
        raise
    _log.debug("namespace_created", path=str(path), kind=kind)


def pin_namespace(source: Path, path: Path) -> None:
    """Pin the namespace file `source` (a /proc/<pid>/ns/* of a process just created) at
    `path`, so that it is joined by that path from then on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_netns(path):
        return
    path.touch()
    if _libc.mount(bytes(source), bytes(path), b"none", _MS_BIND, None) != 0:
        err = _fail(f"bind mount {source}", path)
        path.unlink(missing_ok=True)
        raise err


def remove_netns(path: Path) -> None:
    """Unmount and delete the namespace file; nothing there is fine.

    When no process is left in the namespace the kernel then destroys it, and with it the
    pod's eth0 and the veth's host end (asynchronously, batched with other namespaces).
    """
    if _libc.umount2(bytes(path), _MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise NetworkError(f"netns {path}: unmount: {os.strerror(code)}", errno=code)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as err:
        raise NetworkError(f"netns {path}: remove: {err}", errno=err.errno) from err
    _log.debug("netns_removed", path=str(path))


def in_netns(path: Path, fn: Callable[[], T]) -> T:
    """Run `fn` in a short-lived thread that has joined the namespace at `path`.

    Sockets `fn` opens (netlink included) stay in that namespace after it returns.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise NetworkError(f"netns {path}: open: {err}", errno=err.errno) from err

    def body() -> T:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise _fail("setns", path)
        return fn()

    try:
        return _in_thread(body)
    finally:
        os.close(fd)
