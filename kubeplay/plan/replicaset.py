"""The ReplicaSet controller's decisions (pkg/controller/replicaset/replica_set.go,
pkg/controller/controller_utils.go), pure: how many pods to make, which to delete, status.

- Active pods are those not terminating and not ended (Succeeded/Failed): an ended pod is
  replaced (and removed, as the pod garbage collector would eventually), a terminating one
  is not counted and not waited for (no podReplacementPolicy).
- Too few: create the difference (the engine creates in slow-start batches 1, 2, 4, ...,
  stopping at the first error). Too many: delete the lowest ranked (`ActivePodsWithRanks.Less`
  with LogarithmicScaleDown): unassigned before assigned; Pending, Unknown, then Running; not
  ready before ready; lower `controller.kubernetes.io/pod-deletion-cost` first; (co-located
  ready pods: equal on one node); ready for less time (log2 buckets); more restarts; newer
  (log2 buckets); then by name, so a decision is deterministic.
- Status: replicas (active), fullyLabeledReplicas, readyReplicas, availableReplicas (Ready for
  at least minReadySeconds), observedGeneration.

No I/O, no clock: `now` is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.kube import workloads

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
BURST_REPLICAS = workloads.BURST_REPLICAS  # at most this many creates or deletes per sync
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclass(frozen=True, slots=True)
class OwnedPod:
    """What the ReplicaSet controller sees of one of its pods."""

    name: str
    created_at: float
    phase: str = "Running"  # Pending | Running | Succeeded | Failed | Unknown
    scheduled: bool = True  # bound to the node (False: unschedulable, a hostPort held)
    ready: bool = False
    ready_since: float | None = None  # when the Ready condition last became True
    restarts: int = 0
    deletion_cost: int = 0
    terminating: bool = False

    @property
    def active(self) -> bool:
        return not self.terminating and self.phase not in ("Succeeded", "Failed")

    def available(self, min_ready_seconds: int, now: float) -> bool:
        """podutil.IsPodAvailable: Ready, and for minReadySeconds already."""
        if not self.ready:
            return False
        if min_ready_seconds <= 0:
            return True
        since = self.ready_since if self.ready_since is not None else now
        return since + min_ready_seconds <= now


@dataclass(frozen=True, slots=True)
class ReplicaSetActions:
    create: int = 0
    delete: tuple[str, ...] = ()  # pod names: ended ones, then the excess by rank
    requeue_after: float | None = None  # a pod becomes available then (minReadySeconds)


def deletion_cost(annotations: Mapping[str, Any] | None) -> int:
    """The pod-deletion-cost annotation (an int32; anything else counts as 0)."""
    raw = (annotations or {}).get(DELETION_COST)
    try:
        value = int(str(raw))
    except ValueError:
        return 0
    return value if -(2**31) <= value < 2**31 else 0


def _log_bucket(seconds: float) -> int:
    """LogarithmicScaleDown: timestamps compared by the integer part of log2 of their age."""
    return math.floor(math.log2(seconds)) if seconds >= 1 else 0


def victim_rank(pod: OwnedPod, *, now: float) -> tuple[Any, ...]:
    """Sort key: the pod to delete first sorts first (ActivePodsWithRanks.Less)."""
    ready_age = (
        _log_bucket(now - pod.ready_since) if pod.ready and pod.ready_since is not None else 0
    )
    return (
        pod.scheduled,
        _PHASE_RANK.get(pod.phase, 2),
        pod.ready,
        pod.deletion_cost,
        ready_age if pod.ready else 0,  # ready for less time first
        -pod.restarts,
        _log_bucket(now - pod.created_at),  # newer first
        -pod.created_at,
        pod.name,
    )


def compute_replicaset_actions(
    replicas: int, pods: Sequence[OwnedPod], *, min_ready_seconds: int = 0, now: float
) -> ReplicaSetActions:
    """What the ReplicaSet controller does for `replicas` wanted and these pods."""
    ended = tuple(p.name for p in pods if not p.terminating and not p.active)
    active = [p for p in pods if p.active]
    diff = len(active) - replicas
    create = min(-diff, BURST_REPLICAS) if diff < 0 else 0
    victims: tuple[str, ...] = ()
    if diff > 0:
        ranked = sorted(active, key=lambda p: victim_rank(p, now=now))
        victims = tuple(p.name for p in ranked[: min(diff, BURST_REPLICAS)])
    return ReplicaSetActions(
        create=create,
        delete=ended + victims,
        requeue_after=_next_available(active, min_ready_seconds, now),
    )


def _next_available(pods: Sequence[OwnedPod], min_ready_seconds: int, now: float) -> float | None:
    """When the next Ready pod becomes available (minReadySeconds), from now."""
    waits = [
        p.ready_since + min_ready_seconds - now
        for p in pods
        if min_ready_seconds > 0
        and p.ready
        and p.ready_since is not None
        and not p.available(min_ready_seconds, now)
    ]
    return max(0.0, min(waits)) if waits else None


def compute_replicaset_status(
    pods: Sequence[OwnedPod],
    *,
    selector_matches: Sequence[bool] | None = None,
    min_ready_seconds: int = 0,
    observed_generation: int,
    now: float,
) -> dict[str, Any]:
    """ReplicaSetStatus as calculateStatus writes it (terminating pods are not counted)."""
    active = [p for p in pods if p.active]
    labeled = (
        len(active)
        if selector_matches is None
        else sum(1 for p, ok in zip(pods, selector_matches, strict=True) if p.active and ok)
    )
    return {
        "replicas": len(active),
        "fullyLabeledReplicas": labeled,
        "readyReplicas": sum(1 for p in active if p.ready),
        "availableReplicas": sum(1 for p in active if p.available(min_ready_seconds, now)),
        "observedGeneration": observed_generation,
    }
