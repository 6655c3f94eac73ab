"""ObservedPod: what exists for a pod right now, as plain values.

The engine builds it from the store's records and the runtime's exit files; `plan.status`
derives a Kubernetes PodStatus from it and `plan.actions` decides what to do next. Times are
epoch seconds, passed in (plan/ never reads a clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# A container the runtime could not start (no such executable...) is terminated with exit code
# 128 and reason StartError: containerd's errorStartExitCode and errorStartReason, which the
# kubelet shows as they are (128 is also Docker's code for it).
START_ERROR_EXIT_CODE = 128


class ContainerState(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class Termination:
    exit_code: int
    started_at: float | None
    finished_at: float
    oom_killed: bool = False
    message: str = ""
    container_id: str = ""
    start_error: bool = False  # the runtime could not start it: it never ran

    @property
    def reason(self) -> str:
        if self.start_error:
            return "StartError"
        if self.oom_killed:
            return "OOMKilled"
        return "Completed" if self.exit_code == 0 else "Error"


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    name: str
    state: ContainerState = ContainerState.WAITING
    container_id: str = ""
    started_at: float | None = None
    termination: Termination | None = None  # set when TERMINATED
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    restart_count: int = 0
    last_termination: Termination | None = None
    # Published probe results for this container instance (None: no probe has said yet).
    readiness: bool | None = None
    startup: bool | None = None
    spec_hash: str = ""  # the container hash this instance was created from ("": unknown)
    image_id: str = ""  # the image this instance was created from ("": none yet)


@dataclass(frozen=True, slots=True)
class ObservedPod:
    sandbox_id: str = ""
    sandbox_running: bool = False
    containers: dict[str, ObservedContainer] = field(default_factory=dict)
    pod_ip: str = ""
    host_ip: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    terminating: bool = False
    deleting_at: float | None = None  # when the deletion began, if known
    failed_reason: str = ""  # set when kubeplay failed the pod (DeadlineExceeded)
    failed_message: str = ""
    unschedulable: str = ""  # not bound to the node: the scheduler's message (a hostPort held)

    def get(self, name: str) -> ObservedContainer:
        return self.containers.get(name) or ObservedContainer(name=name)
