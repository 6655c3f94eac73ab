"""Derive a Kubernetes v1 PodStatus, and kubectl's table columns, from a plan and what exists.

Phase follows the kubelet's getPhase (pkg/kubelet/kubelet_pods.go); the STATUS column follows
kubectl's pod printer (Init:N/M, Init:Error, CrashLoopBackOff, Completed, Terminating...).
Pure: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kubeplay.plan import actions, probes, qos
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


def _started(ctr: ContainerPlan, obs: ObservedContainer) -> bool:
    """Running, and past its startup probe if it has one."""
    return probes.container_started(
        running=obs.state is ContainerState.RUNNING, startup=ctr.startup, result=obs.startup
    )


def _ready(ctr: ContainerPlan, obs: ObservedContainer) -> bool:
    """Started and passing its readiness probe; without a readiness probe a started container
    is ready (Kubernetes' default)."""
    return probes.container_ready(
        started=_started(ctr, obs), readiness=ctr.readiness, result=obs.readiness
    )


def shown(plan: PodPlan, ctr: ContainerPlan, obs: ObservedContainer) -> ObservedContainer:
    """The container as the kubelet shows it. One the runtime could not start (StartError)
    and that its restart policy runs again waits as RunContainerError, the failed instance
    as its lastState, until the supervisor holds it in back-off (CrashLoopBackOff): the
    kubelet's convertToAPIContainerStatuses shows a container to be restarted whose start
    failed (its reasonCache) as waiting. Under Never it stays terminated.

    One retired for a restart whose next instance is not made yet (no instance, no recorded
    reason, an ended one) shows the instance that ended, as the kubelet does while the
    runtime still lists it: terminated, not ContainerCreating."""
    if (
        obs.state is ContainerState.WAITING
        and not obs.container_id
        and obs.waiting_reason == "ContainerCreating"
        and obs.last_termination is not None
    ):
        obs = replace(
            obs,
            state=ContainerState.TERMINATED,
            termination=obs.last_termination,
            last_termination=None,
            container_id=obs.last_termination.container_id,
        )
    term = _terminated(obs)
    if term is None or not term.start_error:
        return obs
    if not actions.should_restart("Always" if _is_sidecar(ctr) else plan.restart_policy, obs):
        return obs
    return replace(
        obs,
        state=ContainerState.WAITING,
        termination=None,
        waiting_reason="RunContainerError",
        waiting_message=term.message,
        last_termination=term,
    )


def waiting_reason(plan: PodPlan, obs: ObservedContainer) -> str:
    """A waiting container's reason. Not created yet, it is ContainerCreating, or in a pod
    with init containers PodInitializing for every container (kubelet's default waiting
    state in convertToAPIContainerStatuses); else what the engine recorded (CrashLoopBackOff,
    ErrImagePull, CreateContainerConfigError...)."""
    reason = obs.waiting_reason or "ContainerCreating"
    if reason == "ContainerCreating" and not obs.container_id and plan.init_containers:
        return "PodInitializing"
    return reason


def container_status(
    ctr: ContainerPlan, obs: ObservedContainer, *, default_reason: str = ""
) -> dict[str, Any]:
    """One v1 ContainerStatus; `default_reason` overrides a not-created container's
    ContainerCreating (see `waiting_reason`)."""
    state: dict[str, Any]
    if obs.state is ContainerState.RUNNING:
        state = {"running": {"startedAt": rfc3339(obs.started_at)}}
    elif obs.state is ContainerState.TERMINATED and obs.termination is not None:
        state = {"terminated": _termination(obs.termination)}
    else:
        reason = obs.waiting_reason or "ContainerCreating"
        if default_reason and reason == "ContainerCreating" and not obs.container_id:
            reason = default_reason
        waiting: dict[str, Any] = {"reason": reason}
        if obs.waiting_message:
            waiting["message"] = obs.waiting_message
        state = {"waiting": waiting}
    out: dict[str, Any] = {
        "name": ctr.name,
        "image": ctr.image,
        "imageID": obs.image_id,
        "ready": _ready(ctr, obs),
        "restartCount": obs.restart_count,
        "started": _started(ctr, obs),
        "state": state,
        "lastState": (
            {"terminated": _termination(obs.last_termination)} if obs.last_termination else {}
        ),
    }
    if obs.container_id:
        out["containerID"] = f"kubeplay://{obs.container_id}"
    return out


def _terminated(obs: ObservedContainer) -> Termination | None:
    """The current termination, when the container is in the terminated state."""
    return obs.termination if obs.state is ContainerState.TERMINATED else None


def _any_app_started(plan: PodPlan, observed: ObservedPod) -> bool:
    """kubecontainer.HasAnyRegularContainerStarted: an app container is running or exited."""
    return any(
        observed.get(c.name).state is ContainerState.RUNNING
        or _terminated(observed.get(c.name)) is not None
        for c in plan.containers
    )


def _initialized(plan: PodPlan, observed: ObservedPod, phase: str) -> bool:
    """The Initialized condition (kubelet status.GeneratePodInitializedCondition).

    True without init containers, once any app container has started (a sidecar restarting
    later does not un-initialize the pod), or when every init container is done: regular ones
    exited 0, sidecars (restartPolicy Always) started (running and past any startup probe).
    """
    if not plan.init_containers or _any_app_started(plan, observed):
        return True
    for ctr in plan.init_containers:
        obs = observed.get(ctr.name)
        if _is_sidecar(ctr):
            if not _started(ctr, obs):  # running, and past its startup probe
                return phase == "Succeeded"
            continue
        term = _terminated(obs)
        if term is None or term.exit_code != 0:
            return phase == "Succeeded"
    return True


def derive_phase(plan: PodPlan, observed: ObservedPod) -> str:
    """Pod phase, following kubelet's getPhase (pkg/kubelet/kubelet_pods.go).

    The pod is never treated as terminal here (getPhase's podIsTerminal=false); kubeplay has
    no status for a container that was never created, so it counts as waiting.
    """
    pending_init = failed_init = 0
    running = waiting = stopped = succeeded = 0
    for ctr in plan.init_containers:
        obs = observed.get(ctr.name)
        term = _terminated(obs)
        if _is_sidecar(ctr):
            # Restartable init containers count as running; once exited they are ignored.
            if obs.state is ContainerState.RUNNING:
                running += 1
            elif term is None and obs.last_termination is None:
                pending_init += 1
                waiting += 1
            continue
        if obs.state is ContainerState.RUNNING:
            pending_init += 1
        elif term is not None:
            failed_init += term.exit_code != 0
        elif obs.last_termination is not None:
            failed_init += obs.last_termination.exit_code != 0
        else:
            pending_init += 1
    for ctr in plan.containers:
        obs = observed.get(ctr.name)
        term = _terminated(obs)
        if obs.state is ContainerState.RUNNING:
            running += 1
        elif term is not None:
            stopped += 1
            succeeded += term.exit_code == 0
        elif obs.last_termination is not None:
            stopped += 1
        else:
            waiting += 1
    if failed_init and plan.restart_policy == "Never":
        return "Failed"
    if (pending_init and not _any_app_started(plan, observed)) or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if plan.restart_policy == "Always":
            return "Running"  # every container is on its way to a restart
        if stopped == succeeded:
            return "Succeeded"
        if plan.restart_policy == "Never":
            return "Failed"
        return "Running"  # OnFailure: the failed ones will be restarted
    return "Pending"


def _containers_ready(plan: PodPlan, observed: ObservedPod, phase: str) -> tuple[bool, str]:
    """(status, reason) of ContainersReady, as kubelet's GenerateContainersReadyCondition."""
    if phase == "Succeeded":
        return False, "PodCompleted"
    if phase == "Failed":
        return False, "PodFailed"
    wanted = [c for c in plan.init_containers if _is_sidecar(c)] + list(plan.containers)
    if plan.containers and all(_ready(c, observed.get(c.name)) for c in wanted):
        return True, ""
    return False, "ContainersNotReady"


# kube-scheduler's NodePorts filter on a one-node cluster (the pod stays Pending).
NO_FREE_PORTS = (
    "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports"
)


def _unscheduled_status(plan: PodPlan, observed: ObservedPod) -> dict[str, Any]:
    """An unschedulable pod: Pending, PodScheduled False, no container has a status yet."""
    return {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastTransitionTime": rfc3339(observed.created_at),
                "reason": "Unschedulable",
                "message": observed.unschedulable,
            }
        ],
        "qosClass": str(qos.qos_class(c.resources for c in plan.all_containers())),
    }


def derive_pod_status(plan: PodPlan, observed: ObservedPod) -> dict[str, Any]:
    """A v1 PodStatus dict."""
    if observed.unschedulable:
        return _unscheduled_status(plan, observed)
    phase = "Failed" if observed.failed_reason else derive_phase(plan, observed)
    initialized = _initialized(plan, observed, phase)
    ready, not_ready = _containers_ready(plan, observed, phase)
    created = rfc3339(observed.created_at)

    def cond(kind: str, ok: bool, reason: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind, "status": "True" if ok else "False"}
        out["lastTransitionTime"] = created
        if not ok and reason:
            out["reason"] = reason
        return out

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
        "qosClass": str(qos.qos_class(c.resources for c in plan.all_containers())),
    }
    if observed.failed_reason:
        status["reason"] = observed.failed_reason
        status["message"] = observed.failed_message
    default = "PodInitializing" if plan.init_containers else ""
    if plan.init_containers:
        status["initContainerStatuses"] = [
            container_status(c, shown(plan, c, observed.get(c.name)), default_reason=default)
            for c in plan.init_containers
        ]
    status["containerStatuses"] = [
        container_status(c, shown(plan, c, observed.get(c.name)), default_reason=default)
        for c in plan.containers
    ]
    return {k: v for k, v in status.items() if v is not None}


@dataclass(frozen=True, slots=True)
class PodSummary:
    """kubectl get pods columns."""

    ready: str
    status: str
    restarts: int
    last_restart_at: float | None = None


def _later(current: float | None, last: Termination | None) -> float | None:
    if last is None:
        return current
    return last.finished_at if current is None else max(current, last.finished_at)


def _ended_by_deletion(observed: ObservedPod) -> bool:
    """A pod made terminal by its own deletion (its containers stopped after it began, and it
    is not gone: the `down` was interrupted) is still Terminating; one that had finished
    before keeps its Completed or Error, as kubectl shows it."""
    if observed.deleting_at is None:
        return False
    return any(
        c.termination is not None and c.termination.finished_at >= observed.deleting_at
        for c in observed.containers.values()
    )


def summarize(plan: PodPlan, observed: ObservedPod, *, phase: str | None = None) -> PodSummary:
    """kubectl's READY, STATUS and RESTARTS columns (printPod in kubectl's printers.go).

    Sidecars (restartable init containers) count in READY; while the pod initializes,
    RESTARTS sums the init containers, afterwards the sidecars and the app containers.
    """
    phase = phase or derive_phase(plan, observed)
    reason = phase
    if observed.unschedulable:
        total = len(plan.containers) + sum(1 for c in plan.init_containers if _is_sidecar(c))
        return PodSummary(ready=f"0/{total}", status="Pending", restarts=0)
    restarts = sidecar_restarts = 0
    last_restart = last_sidecar_restart = None
    ready = 0
    total = len(plan.containers) + sum(1 for c in plan.init_containers if _is_sidecar(c))
    initializing = False
    for i, ctr in enumerate(plan.init_containers):
        obs = shown(plan, ctr, observed.get(ctr.name))
        restarts += obs.restart_count
        last_restart = _later(last_restart, obs.last_termination)
        if _is_sidecar(ctr):
            sidecar_restarts += obs.restart_count
            last_sidecar_restart = _later(last_sidecar_restart, obs.last_termination)
        term = _terminated(obs)
        if term is not None and term.exit_code == 0:
            continue
        if _is_sidecar(ctr) and obs.state is ContainerState.RUNNING:
            ready += _ready(ctr, obs)
            continue
        if term is not None:
            reason = f"Init:{term.reason}"
        elif obs.state is ContainerState.WAITING and obs.waiting_reason not in (
            "",
            "PodInitializing",
            "ContainerCreating",  # kubeplay's default; the kubelet's is PodInitializing
        ):
            reason = f"Init:{obs.waiting_reason}"
        else:
            reason = f"Init:{i}/{len(plan.init_containers)}"
        initializing = True
        break
    if not initializing or _initialized(plan, observed, phase):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for ctr in reversed(plan.containers):
            obs = shown(plan, ctr, observed.get(ctr.name))
            restarts += obs.restart_count
            last_restart = _later(last_restart, obs.last_termination)
            term = _terminated(obs)
            if obs.state is ContainerState.WAITING:
                reason = waiting_reason(plan, obs)
            elif term is not None:
                reason = term.reason
            elif obs.state is ContainerState.RUNNING and _ready(ctr, obs):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready, _ = _containers_ready(plan, observed, phase)
            reason = "Running" if pod_ready else "NotReady"
    if observed.failed_reason:
        reason = observed.failed_reason  # kubectl shows status.reason when it is set
    if observed.terminating and (
        phase not in ("Succeeded", "Failed") or _ended_by_deletion(observed)
    ):
        reason = "Terminating"
    return PodSummary(
        ready=f"{ready}/{total}",
        status=reason,
        restarts=restarts,
        last_restart_at=last_restart,
    )
