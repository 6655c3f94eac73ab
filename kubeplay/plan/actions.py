"""compute_pod_actions: what a sync of one pod must do next, in the kubelet's order.

Mirrors kubelet's computePodActions: a missing sandbox means create it and start from the
first init container; a sandbox that died (SandboxChanged) means kill the pod first, and with
restartPolicy Never, or nothing left to run (OnFailure containers that succeeded stay
finished), no new sandbox; init containers run one at a time (sidecar init containers, with
restartPolicy Always, are started and left running); app containers start once every init
container is done. A terminated container is restarted only when the restart policy says so.
A running app (or sidecar) container made from another definition than its plan's (the
spec hash stored at its creation differs: an image update) is killed and started again,
whatever the policy, as kubelet's containerChanged.
Pure: no I/O, no clock; back-off timing belongs to the supervisor's state machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kubeplay.plan.observed import ContainerState, ObservedContainer, ObservedPod
from kubeplay.plan.pods import ContainerPlan, PodPlan


class KillReason(StrEnum):
    SPEC_CHANGED = "SpecChanged"  # kubelet containerChanged: the hash differs


@dataclass(frozen=True, slots=True)
class ContainerKill:
    """A running container to stop before the sync goes on (then started again)."""

    name: str
    reason: KillReason
    message: str


@dataclass(frozen=True, slots=True)
class PodActions:
    create_sandbox: bool = False
    kills: tuple[ContainerKill, ...] = ()  # stop these first; each is also in start
    kill_pod: bool = False  # the sandbox died: kill every container first (SandboxChanged)
    start_init: str = ""  # the init container to start (or restart) next
    wait_for: str = ""  # an init container is running: wait for it to finish
    start: tuple[str, ...] = ()  # app containers to start (or restart), spec order
    restarts: tuple[str, ...] = ()  # the subset of start/start_init that ran before
    pod_done: bool = False  # every container finished and the policy allows no restart
    message: str = ""


def should_restart(policy: str, obs: ObservedContainer) -> bool:
    """Restart policy for a terminated container (Kubernetes restartPolicy)."""
    term = obs.termination
    if term is None:
        return False
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return term.exit_code != 0
    return False


def changed(ctr: ContainerPlan, obs: ObservedContainer) -> bool:
    """kubelet containerChanged: the instance was made from another definition (an instance
    from before hashes were stored, "", is taken as it is)."""
    return bool(obs.spec_hash) and bool(ctr.spec_hash) and obs.spec_hash != ctr.spec_hash


def _definition_changed(name: str) -> ContainerKill:
    return ContainerKill(
        name, KillReason.SPEC_CHANGED, f"Container {name} definition changed, will be restarted"
    )


def _ran_before(obs: ObservedContainer) -> bool:
    return obs.state is ContainerState.TERMINATED or obs.last_termination is not None


def _last_init_succeeded(plan: PodPlan, observed: ObservedPod) -> bool:
    if not plan.init_containers or plan.init_containers[-1].restart_policy == "Always":
        return False
    obs = observed.get(plan.init_containers[-1].name)
    term = obs.termination if obs.state is ContainerState.TERMINATED else None
    return term is not None and term.exit_code == 0


def succeeded(obs: ObservedContainer) -> bool:
    """The container's current instance exited 0 (one retired to run again has not)."""
    term = obs.termination if obs.state is ContainerState.TERMINATED else None
    return term is not None and term.exit_code == 0


def _sandbox_actions(plan: PodPlan, observed: ObservedPod) -> PodActions:
    """No running sandbox: make one, or after one died (it existed: SandboxChanged) kill the
    pod and make a new one, as kubelet's computePodActions: not with restartPolicy Never once
    containers ran, and not when no container is left to run."""
    changed = bool(observed.sandbox_id)
    ran = any(
        observed.get(c.name).container_id or _ran_before(observed.get(c.name))
        for c in (*plan.init_containers, *plan.containers)
    )
    if changed and ran and plan.restart_policy == "Never":
        return PodActions(
            kill_pod=True, message="pod sandbox died and restartPolicy is Never: the pod ends"
        )
    to_start = tuple(
        c.name
        for c in plan.containers
        if not (plan.restart_policy == "OnFailure" and succeeded(observed.get(c.name)))
    )
    if not to_start:
        return PodActions(kill_pod=changed, pod_done=True)
    first = plan.init_containers[0].name if plan.init_containers else ""
    return PodActions(
        create_sandbox=True,
        kill_pod=changed,
        start_init=first,
        start=() if first else to_start,
        message="pod sandbox changed: kill it and make it again"
        if changed
        else "pod sandbox missing: create it",
    )


def compute_pod_actions(plan: PodPlan, observed: ObservedPod) -> PodActions:
    if observed.failed_reason:  # e.g. DeadlineExceeded: a failed pod never starts again
        return PodActions(pod_done=True, message=observed.failed_message)
    if not observed.sandbox_running:
        return _sandbox_actions(plan, observed)
    # The pod has initialized once an app container runs or the last init container, a regular
    # one, exited 0 (kubelet's findNextInitContainerToRun / computeInitContainerActions); from
    # then on only sidecars are kept up, and alongside the app containers.
    initialized = any(
        observed.get(c.name).state is ContainerState.RUNNING for c in plan.containers
    ) or _last_init_succeeded(plan, observed)
    sidecar = ""  # a sidecar to (re)start once the pod is initialized
    kills: list[ContainerKill] = []
    for ctr in plan.init_containers:
        obs = observed.get(ctr.name)
        if ctr.restart_policy == "Always":  # sidecar: start it and go on
            if obs.state is ContainerState.RUNNING:
                if initialized and not sidecar and changed(ctr, obs):
                    kills.append(_definition_changed(ctr.name))
                    sidecar = ctr.name
                continue
            if initialized:
                sidecar = sidecar or ctr.name
                continue
            again = (ctr.name,) if _ran_before(obs) else ()
            return PodActions(start_init=ctr.name, restarts=again)
        if initialized:
            continue
        if obs.state is ContainerState.RUNNING:
            return PodActions(wait_for=ctr.name)
        if obs.state is ContainerState.TERMINATED and obs.termination is not None:
            if obs.termination.exit_code == 0:
                continue
            if plan.restart_policy == "Never":
                return PodActions(
                    pod_done=True,
                    message=f"init container {ctr.name} failed "
                    f"(exit {obs.termination.exit_code}) and restartPolicy is Never",
                )
            return PodActions(start_init=ctr.name, restarts=(ctr.name,))
        return PodActions(start_init=ctr.name, restarts=(ctr.name,) if _ran_before(obs) else ())
    start: list[str] = []
    restarts: list[str] = []
    finished = 0
    for ctr in plan.containers:
        obs = observed.get(ctr.name)
        if obs.state is ContainerState.RUNNING:
            if changed(ctr, obs):  # restarted whatever the policy: the spec changed
                kills.append(_definition_changed(ctr.name))
                start.append(ctr.name)
                restarts.append(ctr.name)
            continue
        if obs.state is ContainerState.TERMINATED:
            if should_restart(plan.restart_policy, obs):
                start.append(ctr.name)
                restarts.append(ctr.name)
            else:
                finished += 1
            continue
        start.append(ctr.name)
        if _ran_before(obs):
            restarts.append(ctr.name)
    done = bool(plan.containers) and finished == len(plan.containers)
    if done:
        # kubelet: sidecars must not keep a finished pod alive, so they are not restarted.
        return PodActions(pod_done=True)
    return PodActions(
        kills=tuple(kills),
        start_init=sidecar,
        start=tuple(start),
        restarts=((sidecar,) if sidecar else ()) + tuple(restarts),
    )
