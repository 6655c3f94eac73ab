"""`kubeplay system reset`: remove everything this install made on the host.

Every pod (containers, mounts, netns, veths), whatever of a pod the store does not know, the
node network (dnsmasq, the nft table, the
bridge), then the state and run roots themselves (store, images, volumes, runtime state).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeplay.engine import host as host_mod
from kubeplay.engine import network, orphans
from kubeplay.engine import pods as engine
from kubeplay.errors import StateError
from kubeplay.settings import Settings


@dataclass(frozen=True, slots=True)
class ResetReport:
    pods: tuple[str, ...]


def reset(settings: Settings) -> ResetReport:
    from kubeplay.services import supervision

    removed: list[str] = []
    supervision.stop(settings)  # before the pods: it would restart what is being removed
    if settings.state_db.exists():
        host = host_mod.open_host(settings)
        try:
            records = host.store.list_pods()
            if records:
                host_mod.require_runtime(host)
            for rec in records:
                engine.teardown_pod(host, rec, grace=0)
                removed.append(f"{rec.namespace}/{rec.name}")
            orphans.collect(host)  # what no pod row knows (a lost row, a killed command)
        finally:
            host.close()
    host = host_mod.Host(settings)
    network.reset_node(host)
    for root in (settings.root, settings.runroot):
        if root.exists():
            engine.remove_tree(root)
    if settings.root.exists() or settings.runroot.exists():
        raise StateError(f"system reset: could not remove {settings.root} / {settings.runroot}")
    return ResetReport(pods=tuple(removed))
