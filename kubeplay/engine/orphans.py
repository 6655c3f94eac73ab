"""Garbage collection of what kubeplay made but its store does not know, as the kubelet
removes sandboxes and containers it has no pod for (`kubeGenericRuntimeManager.
GarbageCollect`, evictSandboxes of unknown pods).

A store lost, restored from a backup or edited, or a crash between steps, can leave runtime
containers, network namespaces, pinned IPC/UTS namespaces or pod directories under
kubeplay's roots that no pod row names. Every step that makes one records it first (a pod row
before its directory and netns, a container id before `runtime create`), so whatever no row
names is nobody's: `collect` removes it and logs each removal. The supervisor calls it when
it starts, before it adopts the store's pods.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from kubeplay import log
from kubeplay.engine import pods
from kubeplay.engine.host import Host
from kubeplay.errors import KubeplayError

_log = log.get_logger(__name__)


def collect(host: Host) -> list[str]:
    """Remove runtime containers, namespaces and pod directories no pod of the store knows;
    what was removed (for the log and tests). Errors are logged, never raised.

    What exists is listed before the store is read: every step writes its row before it
    makes anything, so a thing listed first and unknown to the store read after is nobody's,
    even while a command creates pods meanwhile."""
    s = host.settings
    states = []
    if s.runtime_root.is_dir() and any(s.runtime_root.iterdir()):
        try:
            states = host.runtime.list()
        except KubeplayError as err:
            _log.warning("orphan_scan_failed", what="runtime", error=str(err))
    netns_files = _listing(s.netns_dir)
    pinned_dirs = _listing(pods.pinned_namespaces_dir(host))
    pod_dirs = [d for d in _listing(s.pods_dir) if d.is_dir()]
    records = host.store.list_pods()
    uids = {r.uid for r in records}
    cids = {c.container_id for r in records for c in r.containers if c.container_id}
    removed: list[str] = []
    for state in states:
        if state.id in cids:
            continue
        try:
            host.runtime.kill(state.id, signal.SIGKILL, all_procs=True)
            host.runtime.delete(state.id, force=True)
            shutil.rmtree(s.runroot / "persist" / state.id, True)
        except KubeplayError as err:
            _log.warning("orphan_container_not_removed", id=state.id, error=str(err))
            continue
        _log.warning("orphan_container_removed", id=state.id, bundle=state.bundle)
        removed.append(f"container {state.id}")
    removed += _namespaces([p for p in netns_files if p.name not in uids], pinned=False)
    removed += _namespaces([p for p in pinned_dirs if p.name not in uids], pinned=True)
    removed += _pod_dirs(host, [d for d in pod_dirs if d.name not in uids])
    return removed


def _listing(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []


def _namespaces(paths: list[Path], *, pinned: bool) -> list[str]:
    """Unpin and remove unknown netns files, or unknown pods' directories of pinned
    namespaces."""
    from kubeplay.net import netns

    removed: list[str] = []
    for path in paths:
        try:
            if pinned:
                for each in _listing(path):
                    netns.remove_netns(each)
                path.rmdir()
            else:
                netns.remove_netns(path)
        except (KubeplayError, OSError) as err:
            _log.warning("orphan_netns_not_removed", path=str(path), error=str(err))
            continue
        _log.warning("orphan_netns_removed", path=str(path))
        removed.append(f"namespaces {path}")
    return removed


def _pod_dirs(host: Host, directories: list[Path]) -> list[str]:
    from kubeplay.engine import volumes

    removed: list[str] = []
    for directory in directories:
        try:
            for cdir in _listing(directory / "containers"):
                host.images.unmount_rootfs(cdir / "rootfs", lazy=True)
            volumes.teardown_pod_volumes(host, directory.name)
            pods.remove_tree(directory)
        except (KubeplayError, OSError) as err:
            _log.warning("orphan_pod_dir_not_removed", path=str(directory), error=str(err))
            continue
        _log.warning("orphan_pod_dir_removed", path=str(directory))
        removed.append(f"pod directory {directory}")
    return removed
