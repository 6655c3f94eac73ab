"""The kinds of the workload controllers (`reconcile.workload_controllers`), and whether the
store holds anything of theirs, without importing the controllers or `reconcile` (which
imports the supervisor's loop and with it asyncio): commands ask this on every `get`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeplay.engine.host import Host

# The kinds of `workload_controllers`, in their order.
WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "CronJob", "Job", "StatefulSet", "DaemonSet")


def workloads_stored(host: Host) -> bool:
    """Whether the store holds an object of a workload kind, or an object with a controlling
    owner (a Job's pod whose Job is gone is still the Job controller's to delete). Until
    then no workload controller has a key or anything to do."""
    kinds = {kind for _, kind in host.store.stored_kinds()}
    return not kinds.isdisjoint(WORKLOAD_KINDS) or host.store.has_owned_objects()
