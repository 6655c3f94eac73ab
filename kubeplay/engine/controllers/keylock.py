"""How a workload controller's sync takes its object's lock, the same for every kind.

A command that applies, scales or deletes an object holds its key lock and runs the
controllers once itself (`engine.reconcile`): keys it holds already are synced without taking
the lock again (`held`), and a command's controllers wait for a lock another command holds
(`wait`). The supervisor's never wait (a worker must not block on a command): a held lock
means "look again shortly", and the command nudges it when done.
"""

from __future__ import annotations

from collections.abc import Callable

from kubeplay.engine import locks
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.kube import kinds

BUSY_RETRY_SECONDS = 0.5  # its lock is held by a command: look again after this


def sync_locked(
    host: Host,
    key: ObjectKey,
    *,
    group: str,
    held: frozenset[ObjectKey],
    wait: bool,
    sync: Callable[[], SyncResult],
) -> SyncResult:
    """`sync()` under the object's key lock (of `group`), as described above."""
    if key in held:
        return sync()
    lock = kinds.ObjectKey(group, key.kind, key.namespace, key.name)
    if wait:
        with locks.key_locks(host.settings.locks_dir, [lock]):
            return sync()
    with locks.try_key_lock(host.settings.locks_dir, lock) as got:
        if not got:  # a command works on it, and syncs it itself
            return SyncResult(requeue_after=BUSY_RETRY_SECONDS, needs_supervisor=True)
        return sync()
