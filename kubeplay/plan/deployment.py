"""The Deployment controller's decisions (pkg/controller/deployment: sync.go, rolling.go,
recreate.go, progress.go, util/deployment_util.go), pure.

`compute_deployment_actions(spec, replicasets, new_hash=..., now=...)` looks at the
Deployment and its ReplicaSets (with their pods' counts) and says which ReplicaSet to
create, how to scale each, which old ones to delete (revisionHistoryLimit), the status and
conditions to write and when to look again:

- Fenceposts (`resolve_fenceposts`): maxSurge rounds up from a percentage, maxUnavailable
  down; both 0 gives maxUnavailable 1. Defaults 25 %/25 %.
- RollingUpdate: scale the new ReplicaSet up first (never above replicas + maxSurge pods in
  all ReplicaSets); only if that changed nothing, scale old ones down: first their unhealthy
  replicas (oldest ReplicaSet first), then by how many available pods exceed
  replicas - maxUnavailable (counting the new ReplicaSet's unavailable pods against it).
- Recreate: old ReplicaSets to 0, and the new one up only once their pods are gone.
- Scaling (`scale_replicasets`, sync.go's scale): when paused, or when an active
  ReplicaSet's desired-replicas annotation differs from spec.replicas (a scaling event), the
  sync only sizes ReplicaSets: one active takes it all; several share the change in
  proportion to their size against their max-replicas annotation (GetProportion), so a
  Deployment scaled mid-rollout keeps its old/new mix.
- paused: no rollout (no new ReplicaSet), scaling only.
- Progress: Progressing True (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
  NewReplicaSetAvailable), False ProgressDeadlineExceeded after progressDeadlineSeconds
  without progress, Unknown DeploymentPaused / DeploymentResumed; Available True
  MinimumReplicasAvailable or False MinimumReplicasUnavailable.
- Revisions: the new ReplicaSet's `deployment.kubernetes.io/revision` is the old maximum + 1;
  an old ReplicaSet made new again (a rollback) takes the new number and keeps its old ones
  in `revision-history`.

No I/O, no clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Deployment annotations a ReplicaSet does not copy (skipCopyAnnotation).
_NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS})

DEFAULT_PROGRESS_DEADLINE = 600
DEFAULT_HISTORY_LIMIT = 10


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    name: str
    replicas: int = 1
    strategy: str = "RollingUpdate"  # | Recreate
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    min_ready_seconds: int = 0
    progress_deadline_seconds: int = DEFAULT_PROGRESS_DEADLINE
    revision_history_limit: int = DEFAULT_HISTORY_LIMIT
    paused: bool = False
    generation: int = 1


@dataclass(frozen=True, slots=True)
class ReplicaSetView:
    """One ReplicaSet the Deployment owns: its spec.replicas, its pods' counts."""

    name: str
    template_hash: str
    replicas: int  # spec.replicas
    created_at: float
    revision: int = 0
    pods: int = 0  # status.replicas: active pods
    ready: int = 0
    available: int = 0
    all_pods: int = 0  # every pod it owns, terminating ones included (Recreate waits)
    desired: int | None = None  # its desired-replicas annotation (the Deployment's replicas)
    max_replicas: int | None = None  # its max-replicas annotation (replicas + maxSurge)


@dataclass(frozen=True, slots=True)
class NewReplicaSet:
    name: str
    template_hash: str
    replicas: int
    revision: int


@dataclass(frozen=True, slots=True)
class DeploymentActions:
    create: NewReplicaSet | None = None
    scale: Mapping[str, int] = field(default_factory=dict)  # ReplicaSet -> spec.replicas
    revision: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # (rev, history)
    delete: tuple[str, ...] = ()  # old ReplicaSets beyond revisionHistoryLimit
    status: Mapping[str, Any] = field(default_factory=dict)
    requeue_after: float | None = None
    rolling: bool = False  # a rollout is under way (the supervisor must stay up)


# --- fenceposts -------------------------------------------------------------------------


def _scaled(value: int | str, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        return int(text)
    percent = int(text[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(
    max_surge: int | str, max_unavailable: int | str, replicas: int
) -> tuple[int, int]:
    """(surge, unavailable) as ResolveFenceposts: surge rounds up, unavailable down; both 0
    means unavailable 1 (a rollout must be able to move)."""
    surge = _scaled(max_surge, replicas, round_up=True)
    unavailable = _scaled(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(spec: DeploymentSpec) -> int:
    """deploymentutil.MaxUnavailable: 0 for Recreate or no replicas, else capped."""
    if spec.strategy != "RollingUpdate" or spec.replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    return min(unavailable, spec.replicas)


def max_surge(spec: DeploymentSpec) -> int:
    """deploymentutil.MaxSurge: 0 unless RollingUpdate."""
    if spec.strategy != "RollingUpdate":
        return 0
    surge, _ = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    return surge


def spec_of(body: Mapping[str, Any]) -> DeploymentSpec:
    """The controller's view of a (defaulted or not) Deployment body."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}

    def num(name: str, default: int) -> int:
        value = spec.get(name)
        return default if value is None else int(value)

    return DeploymentSpec(
        name=str(meta.get("name") or ""),
        replicas=num("replicas", 1),
        strategy=str(strategy.get("type") or "RollingUpdate"),
        max_surge=rolling.get("maxSurge", "25%"),
        max_unavailable=rolling.get("maxUnavailable", "25%"),
        min_ready_seconds=num("minReadySeconds", 0),
        progress_deadline_seconds=num("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE),
        revision_history_limit=num("revisionHistoryLimit", DEFAULT_HISTORY_LIMIT),
        paused=bool(spec.get("paused")),
        generation=int(meta.get("generation") or 1),
    )


# --- one sync ----------------------------------------------------------------------------


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _parse_time(text: str) -> float | None:
    import calendar

    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None


def _oldest_first(rss: Sequence[ReplicaSetView]) -> list[ReplicaSetView]:
    return sorted(rss, key=lambda r: (r.created_at, r.name))


def _new_rs_replicas(spec: DeploymentSpec, rss: Sequence[ReplicaSetView], new: int) -> int:
    """NewRSNewReplicas for RollingUpdate."""
    surge, _ = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    current = sum(r.replicas for r in rss)
    max_total = spec.replicas + surge
    if current >= max_total:
        return new
    return new + max(0, min(max_total - current, spec.replicas - new))


def _rolling(
    spec: DeploymentSpec, new: ReplicaSetView, old: Sequence[ReplicaSetView]
) -> dict[str, int]:
    """One rolloutRolling step: the ReplicaSets whose spec.replicas change."""
    all_rs = [new, *old]
    if new.replicas > spec.replicas:  # scaled down: the new ReplicaSet follows at once
        return {new.name: spec.replicas}
    if new.replicas < spec.replicas:
        up = _new_rs_replicas(spec, all_rs, new.replicas)
        if up != new.replicas:
            return {new.name: up}
    old_count = sum(r.replicas for r in old)
    if old_count == 0:
        return {}
    _, unavailable = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    min_available = spec.replicas - min(unavailable, spec.replicas)
    all_count = sum(r.replicas for r in all_rs)
    new_unavailable = new.replicas - new.available
    max_scaled_down = all_count - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    changes: dict[str, int] = {}
    # cleanupUnhealthyReplicas: old ReplicaSets' unavailable pods go first, oldest first
    cleaned = 0
    for rs in _oldest_first(old):
        if cleaned >= max_scaled_down:
            break
        if rs.replicas == 0 or rs.replicas == rs.available:
            continue
        down = min(max_scaled_down - cleaned, rs.replicas - rs.available)
        changes[rs.name] = rs.replicas - down
        cleaned += down
    # scaleDownOldReplicaSetsForRollingUpdate: what availability allows
    available = sum(r.available for r in all_rs)
    if available > min_available:
        total = available - min_available
        done = 0
        for rs in _oldest_first(old):
            if done >= total:
                break
            current = changes.get(rs.name, rs.replicas)
            if current == 0:
                continue
            down = min(current, total - done)
            changes[rs.name] = current - down
            done += down
    before = {r.name: r.replicas for r in old}
    return {name: n for name, n in changes.items() if n != before[name]}


# --- scaling (sync.go's scale, deployment_util.go's GetProportion) ----------------------


def is_scaling_event(spec: DeploymentSpec, replicasets: Sequence[ReplicaSetView]) -> bool:
    """isScalingEvent: an active ReplicaSet was sized for another spec.replicas than the
    Deployment's now (its desired-replicas annotation)."""
    return any(
        r.desired is not None and r.desired != spec.replicas for r in replicasets if r.replicas > 0
    )


def _fraction(rs: ReplicaSetView, spec: DeploymentSpec, fallback: int) -> int:
    """getReplicaSetFraction: how many replicas this ReplicaSet gains (or loses) when the
    Deployment's max size moves from its max-replicas annotation to replicas + maxSurge."""
    if spec.replicas == 0:
        return -rs.replicas
    before = rs.max_replicas if rs.max_replicas else fallback
    if not before:
        return 0
    exact = rs.replicas * (spec.replicas + max_surge(spec)) / before
    return math.floor(exact + 0.5) - rs.replicas  # RoundToInt32 (no negatives here)


def proportion(
    rs: ReplicaSetView, spec: DeploymentSpec, to_add: int, added: int, *, fallback: int
) -> int:
    """GetProportion: this ReplicaSet's share of `to_add`, never past what is left of it."""
    if rs.replicas == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, spec, fallback)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def scale_replicasets(
    spec: DeploymentSpec,
    new: ReplicaSetView | None,
    old: Sequence[ReplicaSetView],
    *,
    status_replicas: int = 0,
) -> dict[str, int]:
    """sync.go's scale: the size of each ReplicaSet to (re)write with the Deployment's
    desired-replicas and max-replicas annotations. One active ReplicaSet (or none: the
    newest) takes spec.replicas; a saturated new one has the old ones go to 0; otherwise, in a
    RollingUpdate, the change to replicas + maxSurge is spread over the active ReplicaSets in
    proportion to their size, the largest first (newer first up, older first down), the
    leftover to the first. `status_replicas` is the fallback of a ReplicaSet without the
    max-replicas annotation (the Deployment's status.replicas)."""
    active = [r for r in ([new] if new is not None else []) + list(old) if r.replicas > 0]
    if len(active) <= 1:
        if active:
            target: ReplicaSetView | None = active[0]
        elif new is not None:
            target = new
        else:
            target = max(old, key=lambda r: (r.created_at, r.name), default=None)
        if target is None or target.replicas == spec.replicas:
            return {}
        return {target.name: spec.replicas}
    if (
        new is not None
        and new.desired == spec.replicas
        and new.replicas == spec.replicas
        and new.available == spec.replicas
    ):  # IsSaturated
        return {r.name: 0 for r in old if r.replicas > 0}
    if spec.strategy != "RollingUpdate":
        return {}
    allowed = spec.replicas + max_surge(spec) if spec.replicas > 0 else 0
    to_add = allowed - sum(r.replicas for r in active)
    # ReplicaSetsBySizeNewer scaling up, ReplicaSetsBySizeOlder down: the largest first, ties
    # by creation (then name) newest or oldest first
    by_age = sorted(active, key=lambda r: (r.created_at, r.name), reverse=to_add > 0)
    ranked = sorted(by_age, key=lambda r: -r.replicas)
    sizes: dict[str, int] = {}
    added = 0
    for rs in ranked:
        share = proportion(rs, spec, to_add, added, fallback=status_replicas) if to_add else 0
        sizes[rs.name] = rs.replicas + share
        added += share
    if to_add:
        first = ranked[0].name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def _recreate(
    spec: DeploymentSpec, new: ReplicaSetView | None, old: Sequence[ReplicaSetView]
) -> tuple[dict[str, int], bool]:
    """rolloutRecreate: (changes, whether the new ReplicaSet may be scaled up now)."""
    changes = {r.name: 0 for r in old if r.replicas != 0}
    if changes:
        return changes, False
    if any(r.all_pods for r in old):  # wait until every old pod is gone
        return {}, False
    if new is not None and new.replicas != spec.replicas:
        return {new.name: spec.replicas}, True
    return {}, True


def compute_deployment_actions(
    spec: DeploymentSpec,
    replicasets: Sequence[ReplicaSetView],
    *,
    new_hash: str,
    status: Mapping[str, Any] | None = None,
    now: float,
) -> DeploymentActions:
    """One sync of a Deployment (see the module's docstring). `status` is the stored one
    (its conditions are carried over as the controller does)."""
    previous = dict(status or {})
    new = next((r for r in replicasets if r.template_hash == new_hash), None)
    old = [r for r in replicasets if r is not new]
    max_old_revision = max((r.revision for r in old), default=0)
    create: NewReplicaSet | None = None
    revisions: dict[str, tuple[int, str]] = {}
    scale: dict[str, int] = {}
    progress_reason = ""
    if new is not None and new.revision <= max_old_revision:  # an old template is new again
        revisions[new.name] = (max_old_revision + 1, str(new.revision) if new.revision else "")
    scaling = not spec.paused and is_scaling_event(spec, replicasets)
    if spec.paused or scaling:  # sync(): scaling only, no rollout step
        scale.update(
            scale_replicasets(spec, new, old, status_replicas=int(previous.get("replicas") or 0))
        )
    elif spec.strategy == "Recreate":
        changes, may_scale_up = _recreate(spec, new, old)
        scale.update(changes)
        if new is None and may_scale_up:
            create = NewReplicaSet(
                f"{spec.name}-{new_hash}", new_hash, spec.replicas, max_old_revision + 1
            )
    else:
        if new is None:
            probe = ReplicaSetView(f"{spec.name}-{new_hash}", new_hash, 0, created_at=now)
            replicas = _new_rs_replicas(spec, [*old, probe], 0)
            create = NewReplicaSet(probe.name, new_hash, replicas, max_old_revision + 1)
        else:
            scale.update(_rolling(spec, new, old))
    if create is not None:
        progress_reason = "NewReplicaSetCreated"
    # the ReplicaSets as they are after this step
    after = [replace(r, replicas=scale.get(r.name, r.replicas)) for r in replicasets]
    new_after = next((r for r in after if r.template_hash == new_hash), None)
    if create is not None:
        new_after = ReplicaSetView(create.name, new_hash, create.replicas, created_at=now)
        after.append(new_after)
    old_after = [r for r in after if r is not new_after]
    new_status = _status(spec, after, new_after, previous)
    complete = _complete(spec, new_status)
    delete: tuple[str, ...] = ()
    if complete and not spec.paused:
        delete = _beyond_history(spec, old_after)
    conditions, requeue = _conditions(
        spec,
        new_status,
        previous,
        new_name=new_after.name if new_after else "",
        created=progress_reason,
        complete=complete,
        now=now,
    )
    new_status["conditions"] = conditions
    rolling = not complete and not _timed_out(conditions)
    if rolling and requeue is None:
        requeue = float(spec.progress_deadline_seconds)
    if scaling:  # the rollout step follows in the next sync, as the controller's
        requeue = 0.0
    return DeploymentActions(
        create=create,
        scale=scale,
        revision=revisions,
        delete=delete,
        status=new_status,
        requeue_after=requeue,
        rolling=rolling or any(r.all_pods > r.replicas for r in after),
    )


def _status(
    spec: DeploymentSpec,
    rss: Sequence[ReplicaSetView],
    new: ReplicaSetView | None,
    previous: Mapping[str, Any],
) -> dict[str, Any]:
    available = sum(r.available for r in rss)
    total = sum(r.replicas for r in rss)
    out: dict[str, Any] = {
        "observedGeneration": spec.generation,
        "replicas": sum(r.pods for r in rss),
        "updatedReplicas": new.pods if new else 0,
        "readyReplicas": sum(r.ready for r in rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    if previous.get("collisionCount") is not None:
        out["collisionCount"] = previous["collisionCount"]
    return out


def _complete(spec: DeploymentSpec, status: Mapping[str, Any]) -> bool:
    """DeploymentComplete."""
    return bool(
        status["updatedReplicas"] == spec.replicas
        and status["replicas"] == spec.replicas
        and status["availableReplicas"] == spec.replicas
        and status["observedGeneration"] >= spec.generation
    )


def _beyond_history(spec: DeploymentSpec, old: Sequence[ReplicaSetView]) -> tuple[str, ...]:
    """cleanupDeployment: old ReplicaSets with no pods and 0 replicas beyond the limit,
    lowest revision first."""
    idle = sorted(
        (r for r in old if r.replicas == 0 and r.all_pods == 0),
        key=lambda r: (r.revision, r.created_at),
    )
    excess = len(idle) - max(0, spec.revision_history_limit)
    return tuple(r.name for r in idle[:excess]) if excess > 0 else ()


def _condition(kind: str, status: str, reason: str, message: str, *, now: float) -> dict[str, Any]:
    stamp = _rfc3339(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def _set(conditions: list[dict[str, Any]], cond: dict[str, Any]) -> None:
    """SetDeploymentCondition: same status and reason keeps it as is; same status keeps
    lastTransitionTime."""
    for i, current in enumerate(conditions):
        if current.get("type") != cond["type"]:
            continue
        if current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
            return
        if current.get("status") == cond["status"]:
            cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
        conditions[i] = cond
        return
    conditions.append(cond)


def _timed_out(conditions: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
        for c in conditions
    )


def _progressed(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """DeploymentProgressing: more updated, ready or available pods, or fewer old ones."""
    old_status_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_status_old = new["replicas"] - new["updatedReplicas"]
    return bool(
        new["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
        or new_status_old < old_status_old
        or new["readyReplicas"] > int(old.get("readyReplicas") or 0)
        or new["availableReplicas"] > int(old.get("availableReplicas") or 0)
    )


def _conditions(
    spec: DeploymentSpec,
    status: Mapping[str, Any],
    previous: Mapping[str, Any],
    *,
    new_name: str,
    created: str,
    complete: bool,
    now: float,
) -> tuple[list[dict[str, Any]], float | None]:
    """Available and Progressing (syncRolloutStatus), and when the deadline is due."""
    conditions = [dict(c) for c in previous.get("conditions") or () if isinstance(c, Mapping)]
    if status["availableReplicas"] >= spec.replicas - max_unavailable(spec):
        _set(
            conditions,
            _condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now=now,
            ),
        )
    else:
        _set(
            conditions,
            _condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now=now,
            ),
        )
    progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
    requeue: float | None = None
    rs = f'ReplicaSet "{new_name}"'
    if spec.paused:
        _set(
            conditions,
            _condition(
                "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now=now
            ),
        )
    elif progressing is not None and progressing.get("reason") == "DeploymentPaused":
        _set(
            conditions,
            _condition(
                "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now=now
            ),
        )
    elif created:
        _set(
            conditions,
            _condition(
                "Progressing", "True", created, f'Created new replica set "{new_name}"', now=now
            ),
        )
    elif complete:
        _set(
            conditions,
            _condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f"{rs} has successfully progressed.",
                now=now,
            ),
        )
    elif progressing is None:
        _set(
            conditions,
            _condition(
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                f'Found new replica set "{new_name}"',
                now=now,
            ),
        )
    elif _progressed(status, previous) or progressing.get("reason") == "DeploymentResumed":
        cond = _condition(
            "Progressing", "True", "ReplicaSetUpdated", f"{rs} is progressing.", now=now
        )
        if progressing.get("status") == "True":
            cond["lastTransitionTime"] = progressing.get("lastTransitionTime")
        conditions = [cond if c.get("type") == "Progressing" else c for c in conditions]
    elif progressing.get("reason") != "ProgressDeadlineExceeded":
        since = _parse_time(str(progressing.get("lastUpdateTime") or "")) or now
        due = since + spec.progress_deadline_seconds
        if due < now:
            _set(
                conditions,
                _condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f"{rs} has timed out progressing.",
                    now=now,
                ),
            )
        else:
            requeue = max(0.0, due - now) + 1.0
    if requeue is None and not complete and not spec.paused and not _timed_out(conditions):
        requeue = float(spec.progress_deadline_seconds) + 1.0
    order = {"Available": 0, "Progressing": 1}
    conditions.sort(key=lambda c: order.get(str(c.get("type")), 2))
    return conditions, requeue


def replicaset_annotations(
    deployment: Mapping[str, Any],
    *,
    replicas: int,
    max_replicas: int,
    revision: int,
    history: str = "",
) -> dict[str, str]:
    """A ReplicaSet's annotations: the Deployment's (but last-applied and the revision
    family), desired-replicas, max-replicas, revision (and revision-history)."""
    given = (deployment.get("metadata") or {}).get("annotations") or {}
    out = {str(k): str(v) for k, v in given.items() if k not in _NOT_COPIED}
    out[DESIRED_REPLICAS] = str(replicas)
    out[MAX_REPLICAS] = str(max_replicas)
    out[REVISION] = str(revision)
    if history:
        out[REVISION_HISTORY] = history
    return out
