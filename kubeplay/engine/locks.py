"""Host-wide locks (flock on files under the run root): per-pod locks, so that two kubeplay
commands, or a command and the supervisor, working on the same pod take turns instead of
racing (`key_locks`: one namespace for objects of every kind, a Pod's being its pod lock); and
the supervisor's own lock, which keeps it to one per install.

A lock lives as long as its open file: a process that dies (even by SIGKILL) drops it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeplay.kube.kinds import ObjectKey

# The longest file name Linux takes (NAME_MAX).
NAME_MAX = 255


def pod_lock_path(locks_dir: Path, namespace: str, name: str) -> Path:
    """`pod_<namespace>_<name>.lock`; a name that cannot be a file name as it is (a valid
    253-character pod name in a long namespace is over NAME_MAX; `/`, NUL or non-ASCII in a
    name not validated) is locked under its SHA-256 instead, a prefix no plain name has."""
    return _lock_path(locks_dir, "pod", namespace, name)


def _lock_path(locks_dir: Path, prefix: str, namespace: str, name: str) -> Path:
    plain = f"{prefix}_{namespace}_{name}.lock"
    if len(plain) <= NAME_MAX and plain.isascii() and "/" not in plain and "\0" not in plain:
        return locks_dir / plain
    import hashlib

    digest = hashlib.sha256(f"{namespace}\0{name}".encode(errors="surrogatepass")).hexdigest()
    return locks_dir / f"{prefix}-sha256_{digest}.lock"


@contextmanager
def node_network_lock(locks_dir: Path) -> Iterator[None]:
    """The node's nft table, DNS names and EndpointSlices: one writer at a time across
    processes, so a command's refresh and the supervisor's cannot interleave (a stale view
    written last, or two writers of one file). A leaf: take no other lock inside it."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    with _lock(locks_dir / "node-network.lock"):
        yield


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """Take the lock at `path` without waiting: its fd (close it to release), or None while
    someone else holds it."""
    try:  # the directory exists but the first time: no mkdir per lock (a resync locks each pod)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def try_pod_lock(locks_dir: Path, namespace: str, name: str) -> Iterator[bool]:
    """The pod's lock if it is free (yields True), else yields False at once."""
    fd = try_lock(pod_lock_path(locks_dir, namespace, name))
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether someone holds the lock at `path` (a missing file is not locked). Probes with a
    shared lock, so that two probing commands never see each other as the holder."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def key_lock_path(locks_dir: Path, key: ObjectKey) -> Path:
    """One lock namespace for objects of every kind; a Pod's is the pod lock the supervisor
    takes, so a command and the supervisor working on the same pod take turns."""
    if key.kind == "Pod" and not key.group:
        return pod_lock_path(locks_dir, key.namespace, key.name)
    kind = f"{key.kind.lower()}.{key.group}" if key.group else key.kind.lower()
    return _lock_path(locks_dir, kind, key.namespace, key.name)


@contextmanager
def key_locks(locks_dir: Path, keys: Iterable[ObjectKey]) -> Iterator[None]:
    """Lock every object key, in sorted order, so concurrent commands cannot deadlock."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    paths = sorted({key_lock_path(locks_dir, key) for key in keys})
    with ExitStack() as stack:
        for path in paths:
            stack.enter_context(_lock(path))
        yield


@contextmanager
def try_key_lock(locks_dir: Path, key: ObjectKey) -> Iterator[bool]:
    """An object's lock if it is free (yields True), else yields False at once (the
    supervisor's controllers: a command works on that object, look again shortly)."""
    fd = try_lock(key_lock_path(locks_dir, key))
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)
