"""Which of a pod's pending starts the supervisor may make now, and whether a pod still needs
supervising at all. Pure: back-off entries and `now` come from the supervisor.

A container that ran before (a restart: `PodActions.restarts`) is gated by the restart
back-off since it finished and, while held, waits as CrashLoopBackOff with the kubelet's
message. A container that never ran but failed to start (ErrImagePull,
CreateContainerConfigError, ...) is retried with the same back-off since its last attempt,
an image pull shown as ImagePullBackOff meanwhile (the first window keeps the failure's own
reason and message, e.g. ErrImagePull and the registry's words). Any other start is allowed
at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubeplay.plan import backoff
from kubeplay.plan.actions import PodActions
from kubeplay.plan.backoff import BackoffEntry, BackoffPolicy
from kubeplay.plan.observed import ContainerState, ObservedPod
from kubeplay.plan.pods import PodPlan
from kubeplay.plan.status import derive_phase

# Waiting reasons that are not failures: the container is simply not created yet.
_NOT_FAILED = frozenset({"", "ContainerCreating", "PodInitializing"})
_IMAGE_PULL = frozenset({"ErrImagePull", "ImagePullBackOff"})


@dataclass(frozen=True, slots=True)
class StartGate:
    """One pending start: allowed now (with the back-off entry to keep from now on), or
    held for `wait` seconds, waiting with `reason` and `message`."""

    name: str
    allowed: bool
    entry: BackoffEntry | None = None
    wait: float = 0.0
    reason: str = ""
    message: str = ""


def gate_starts(
    plan: PodPlan,
    observed: ObservedPod,
    todo: PodActions,
    entries: Mapping[str, BackoffEntry],
    *,
    policy: BackoffPolicy,
    now: float,
) -> tuple[StartGate, ...]:
    """A gate for each container `todo` wants to start, init container first."""
    names = ((todo.start_init,) if todo.start_init else ()) + todo.start
    gates: list[StartGate] = []
    for name in names:
        obs = observed.get(name)
        entry = entries.get(name)
        ctr = plan.container(name)
        failed_start = (
            obs.state is ContainerState.WAITING
            and obs.waiting_reason not in _NOT_FAILED
            and obs.waiting_reason != "CrashLoopBackOff"
        )
        if name in todo.restarts and not failed_start:
            term = obs.termination or obs.last_termination
            since = term.finished_at if term is not None else now
            wait = backoff.remaining(policy, entry, since=since, now=now)
            if wait > 0 and entry is not None:
                message = backoff.crash_loop_message(
                    entry.delay, container=name, pod=plan.name, namespace=plan.namespace,
                    uid=plan.uid,
                )  # fmt: skip
                gates.append(StartGate(name, False, entry, wait, "CrashLoopBackOff", message))
                continue
            gates.append(
                StartGate(name, True, backoff.advance(policy, entry, since=since, now=now))
            )
            continue
        if not failed_start:
            gates.append(StartGate(name, True, entry))
            continue
        # Failed to start (never ran, or its restart did): retry since the last attempt
        # (IsInBackOffSinceUpdate), not since an exit long ago. A failure this supervisor
        # has not seen yet (play's own attempt) waits the base first, keeping its message.
        if entry is None:
            first = BackoffEntry(delay=min(policy.base, policy.cap), updated_at=now)
            gates.append(
                StartGate(name, False, first, first.delay, obs.waiting_reason, obs.waiting_message)
            )
            continue
        since = entry.updated_at
        wait = backoff.remaining(policy, entry, since=since, now=now)
        if wait > 0 and entry is not None:
            if obs.waiting_reason in _IMAGE_PULL:
                image = ctr.image if ctr is not None else ""
                reason, message = "ImagePullBackOff", backoff.image_backoff_message(image)
            else:
                reason, message = obs.waiting_reason, obs.waiting_message
            gates.append(StartGate(name, False, entry, wait, reason, message))
            continue
        gates.append(StartGate(name, True, backoff.advance(policy, entry, since=since, now=now)))
    return tuple(gates)


def needs_supervision(plan: PodPlan, observed: ObservedPod) -> bool:
    """A pod needs the supervisor until it has finished (Succeeded or Failed): its containers
    may exit and be restarted, its init containers be started one after the other."""
    if observed.terminating:
        return False
    return derive_phase(plan, observed) not in ("Succeeded", "Failed")
