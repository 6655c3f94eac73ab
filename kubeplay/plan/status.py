"""Derive a Kubernetes v1 PodStatus, and kubectl's table columns, from a plan and what exists.

Phase follows the kubelet's getPhase (pkg/kubelet/kubelet_pods.go); the STATUS column follows
kubectl's pod printer (Init:N/M, Init:Error, CrashLoopBackOff, Completed, Terminating...).
Pure: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubeplay.plan.observed import ContainerState, ObservedContainer, ObservedPod, Termination
from kubeplay.plan.pods import ContainerPlan, PodPlan


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _termination(t: Termination) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exitCode": t.exit_code,
        "reason": t.reason,
        "startedAt": rfc3339(t.started_at),
        "finishedAt": rfc3339(t.finished_at),
    }
    if t.exit_code > 128 and not t.oom_killed:
        out["signal"] = t.exit_code - 128
    if t.message:
        out["message"] = t.message
    if t.container_id:
        out["containerID"] = f"kubeplay://{t.container_id}"
    return out


def _is_sidecar(ctr: ContainerPlan) -> bool:
    return ctr.restart_policy == "Always"


def _ready(ctr: ContainerPlan, obs: ObservedContainer) -> bool:
    """Without a readiness probe a running container is ready (Kubernetes' default)."""
    return obs.state is ContainerState.RUNNING


def container_status(ctr: ContainerPlan, obs: ObservedContainer) -> dict[str, Any]:
    state: dict[str, Any]
    if obs.state is ContainerState.RUNNING:
        state = {"running": {"startedAt": rfc3339(obs.started_at)}}
    elif obs.state is ContainerState.TERMINATED and obs.termination is not None:
        state = {"terminated": _termination(obs.termination)}
    else:
        waiting: dict[str, Any] = {"reason": obs.waiting_reason or "ContainerCreating"}
        if obs.waiting_message:
            waiting["message"] = obs.waiting_message
        state = {"waiting": waiting}
    out: dict[str, Any] = {
        "name": ctr.name,
        "image": ctr.image,
        "imageID": ctr.image_id,
        "ready": _ready(ctr, obs),
        "restartCount": obs.restart_count,
        "started": obs.state is ContainerState.RUNNING,
        "state": state,
        "lastState": (
            {"terminated": _termination(obs.last_termination)} if obs.last_termination else {}
        ),
    }
    if obs.container_id:
        out["containerID"] = f"kubeplay://{obs.container_id}"
    return out


def _init_done(plan: PodPlan, observed: ObservedPod) -> tuple[bool, bool]:
    """(initialized, failed_for_good) for the pod's init containers."""
    for ctr in plan.init_containers:
        obs = observed.get(ctr.name)
        if _is_sidecar(ctr):
            if obs.state is not ContainerState.RUNNING:
                return False, False
            continue
        term = obs.termination
        if obs.state is ContainerState.TERMINATED and term is not None:
            if term.exit_code == 0:
                continue
            return False, plan.restart_policy == "Never"
        return False, False
    return True, False


def derive_phase(plan: PodPlan, observed: ObservedPod) -> str:
    initialized, init_failed = _init_done(plan, observed)
    if init_failed:
        return "Failed"
    if not initialized:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for ctr in plan.containers:
        obs = observed.get(ctr.name)
        if obs.state is ContainerState.RUNNING:
            running += 1
        elif obs.state is ContainerState.TERMINATED and obs.termination is not None:
            stopped += 1
            succeeded += obs.termination.exit_code == 0
        elif obs.last_termination is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if plan.restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if plan.restart_policy == "Never":
        return "Failed"
    return "Running"


def derive_pod_status(plan: PodPlan, observed: ObservedPod) -> dict[str, Any]:
    """A v1 PodStatus dict."""
    phase = derive_phase(plan, observed)
    initialized, _ = _init_done(plan, observed)
    apps_ready = bool(plan.containers) and all(
        _ready(c, observed.get(c.name)) for c in plan.containers
    )
    sidecars_ready = all(
        _ready(c, observed.get(c.name)) for c in plan.init_containers if _is_sidecar(c)
    )
    ready = apps_ready and sidecars_ready and phase == "Running"
    created = rfc3339(observed.created_at)

    def cond(kind: str, ok: bool, reason: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind, "status": "True" if ok else "False"}
        out["lastTransitionTime"] = created
        if not ok and reason:
            out["reason"] = reason
        return out

    not_ready = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            cond("PodReadyToStartContainers", observed.sandbox_running),
            cond("Initialized", initialized, "ContainersNotInitialized"),
            cond("Ready", ready, not_ready),
            cond("ContainersReady", ready, not_ready),
            cond("PodScheduled", True),
        ],
        "hostIP": observed.host_ip or None,
        "hostIPs": [{"ip": observed.host_ip}] if observed.host_ip else None,
        "podIP": observed.pod_ip or None,
        "podIPs": [{"ip": observed.pod_ip}] if observed.pod_ip else None,
        "startTime": rfc3339(observed.started_at),
        "qosClass": "BestEffort",
    }
    if plan.init_containers:
        status["initContainerStatuses"] = [
            container_status(c, observed.get(c.name)) for c in plan.init_containers
        ]
    status["containerStatuses"] = [
        container_status(c, observed.get(c.name)) for c in plan.containers
    ]
    return {k: v for k, v in status.items() if v is not None}


@dataclass(frozen=True, slots=True)
class PodSummary:
    """kubectl get pods columns."""

    ready: str
    status: str
    restarts: int
    last_restart_at: float | None = None


def summarize(plan: PodPlan, observed: ObservedPod, *, phase: str | None = None) -> PodSummary:
    phase = phase or derive_phase(plan, observed)
    reason = phase
    restarts = 0
    initializing = False
    total = len(plan.containers)
    for i, ctr in enumerate(plan.init_containers):
        obs = observed.get(ctr.name)
        restarts += obs.restart_count
        term = obs.termination
        if _is_sidecar(ctr) and obs.state is ContainerState.RUNNING:
            continue
        if obs.state is ContainerState.TERMINATED and term is not None and term.exit_code == 0:
            continue
        if obs.state is ContainerState.TERMINATED and term is not None:
            reason = f"Init:{term.reason}" if term.reason else f"Init:ExitCode:{term.exit_code}"
        elif obs.state is ContainerState.WAITING and obs.waiting_reason not in (
            "",
            "PodInitializing",
            "ContainerCreating",
        ):
            reason = f"Init:{obs.waiting_reason}"
        else:
            reason = f"Init:{i}/{len(plan.init_containers)}"
        initializing = True
        break
    ready = 0
    if not initializing:
        restarts = 0
        has_running = False
        for ctr in reversed(plan.containers):
            obs = observed.get(ctr.name)
            restarts += obs.restart_count
            term = obs.termination
            if obs.state is ContainerState.WAITING and obs.waiting_reason:
                reason = obs.waiting_reason
            elif obs.state is ContainerState.TERMINATED and term is not None:
                reason = term.reason
            elif obs.state is ContainerState.RUNNING:
                has_running = True
                if _ready(ctr, obs):
                    ready += 1
        if reason == "Completed" and has_running:
            reason = "Running"
    if observed.terminating:
        reason = "Terminating"
    lasts = [
        o.last_termination.finished_at
        for o in observed.containers.values()
        if o.last_termination is not None
    ]
    return PodSummary(
        ready=f"{ready}/{total}",
        status=reason,
        restarts=restarts,
        last_restart_at=max(lasts) if lasts else None,
    )
