"""Per-pod locks (flock on a file under the run root), so that two kubeplay commands working
on the same pod (a play and a down, two plays) take turns instead of racing."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def pod_locks(locks_dir: Path, refs: Iterable[tuple[str, str]]) -> Iterator[None]:
    """Lock every (namespace, name) in a fixed order, so concurrent commands cannot deadlock."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for ns, name in sorted(set(refs)):
            stack.enter_context(_lock(locks_dir / f"pod_{ns}_{name}.lock"))
        yield
