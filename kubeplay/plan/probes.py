"""Probes and lifecycle hooks: their specs, and the kubelet's probe state machine.

`parse_probe`/`parse_lifecycle` turn a container's livenessProbe, readinessProbe, startupProbe
and lifecycle into frozen specs with Kubernetes' defaults, named ports resolved against the
container's ports (pkg/apis/core/v1/defaults.go, pkg/kubelet/prober). `ProbeState` and
`observe_result` are the per-probe worker of pkg/kubelet/prober/worker.go: results become runs
of equal results, runs past a threshold change the published result, a liveness or startup
failure asks for a restart and holds the probe until a new container appears. `should_probe`
gates a probe on its initial delay and on the startup probe. Pure: the caller passes `now` and
the results; the engine (engine/probes.py, engine/prober.py, engine/hooks.py) runs handlers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

# Kubernetes' defaults (SetDefaults_Probe).
DEFAULT_PERIOD = 10
DEFAULT_TIMEOUT = 1
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_FAILURE_THRESHOLD = 3
# The kubelet keeps this much of a probe's output or an HTTP body (pkg/probe: maxReadLength).
MAX_OUTPUT = 10 * 1024


class ProbeType(StrEnum):
    """The kubelet's probeType, spelled as its events spell it."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field that holds it: livenessProbe, readinessProbe, startupProbe."""
        return f"{self.value.lower()}Probe"


class Result(StrEnum):
    """What one run of a handler says (pkg/probe.Result)."""

    SUCCESS = "success"
    WARNING = "warning"  # success, with a ProbeWarning event (e.g. a redirect not followed)
    FAILURE = "failure"
    UNKNOWN = "unknown"  # the handler could not run (errored): the result is thrown away


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    output: str = ""  # what a failure or warning event says (capped to MAX_OUTPUT)


@dataclass(frozen=True, slots=True)
class ExecAction:
    command: tuple[str, ...]
    kind: str = field(default="exec", init=False)


@dataclass(frozen=True, slots=True)
class HTTPGetAction:
    port: int  # 0 when `port_name` names no port of the container
    path: str = "/"
    host: str = ""  # "" = the pod's IP
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    port_name: str = ""  # as written, when the port was given by name
    kind: str = field(default="httpGet", init=False)


@dataclass(frozen=True, slots=True)
class TCPSocketAction:
    port: int
    host: str = ""
    port_name: str = ""
    kind: str = field(default="tcpSocket", init=False)


@dataclass(frozen=True, slots=True)
class GRPCAction:
    port: int
    service: str = ""
    kind: str = field(default="grpc", init=False)


@dataclass(frozen=True, slots=True)
class SleepAction:
    seconds: int
    kind: str = field(default="sleep", init=False)


Handler = ExecAction | HTTPGetAction | TCPSocketAction | GRPCAction | SleepAction
_HANDLER_TYPES: dict[str, type[Any]] = {
    "exec": ExecAction,
    "httpGet": HTTPGetAction,
    "tcpSocket": TCPSocketAction,
    "grpc": GRPCAction,
    "sleep": SleepAction,
}


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    handler: Handler
    initial_delay: int = 0
    period: int = DEFAULT_PERIOD
    timeout: int = DEFAULT_TIMEOUT
    success_threshold: int = DEFAULT_SUCCESS_THRESHOLD
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    termination_grace_period: int | None = None  # probe-level; None = the pod's


@dataclass(frozen=True, slots=True)
class PortRef:
    """A container port, for resolving named ports."""

    name: str
    number: int


def _port(value: Any, ports: Sequence[PortRef]) -> tuple[int, str]:
    """(number, name as written): an IntOrString resolved as the kubelet's findPortByName.

    A name no port of the container carries resolves to 0; the engine reports the probe as
    errored ("port NAME not found"), as the kubelet does at probe time.
    """
    if isinstance(value, int):
        return value, ""
    text = str(value)
    if text.isdigit():
        return int(text), ""
    number = next((p.number for p in ports if p.name == text), 0)
    return number, text


def parse_handler(raw: Mapping[str, Any], ports: Sequence[PortRef] = ()) -> Handler | None:
    """The one handler of a probe or lifecycle hook (validation ensured there is one)."""
    if (spec := raw.get("exec")) is not None:
        return ExecAction(command=tuple(str(a) for a in spec.get("command") or ()))
    if (spec := raw.get("httpGet")) is not None:
        port, name = _port(spec["port"], ports)
        path = str(spec.get("path") or "/")
        return HTTPGetAction(
            port=port,
            port_name=name,
            path=path if path.startswith("/") else "/" + path,
            host=str(spec.get("host") or ""),
            scheme=str(spec.get("scheme") or "HTTP").upper(),
            headers=tuple((str(h["name"]), str(h["value"])) for h in spec.get("httpHeaders") or ()),
        )
    if (spec := raw.get("tcpSocket")) is not None:
        port, name = _port(spec["port"], ports)
        return TCPSocketAction(port=port, port_name=name, host=str(spec.get("host") or ""))
    if (spec := raw.get("grpc")) is not None:
        return GRPCAction(port=int(spec["port"]), service=str(spec.get("service") or ""))
    if (spec := raw.get("sleep")) is not None:
        return SleepAction(seconds=int(spec["seconds"]))
    return None


def _positive_or(value: Any, default: int) -> int:
    """The API server's defaulting: an unset or zero field takes the default."""
    return int(value) if value else default


def parse_probe(raw: Mapping[str, Any] | None, ports: Sequence[PortRef] = ()) -> ProbeSpec | None:
    if not raw:
        return None
    handler = parse_handler(raw, ports)
    if handler is None:
        return None
    grace = raw.get("terminationGracePeriodSeconds")
    return ProbeSpec(
        handler=handler,
        initial_delay=int(raw.get("initialDelaySeconds") or 0),
        period=_positive_or(raw.get("periodSeconds"), DEFAULT_PERIOD),
        timeout=_positive_or(raw.get("timeoutSeconds"), DEFAULT_TIMEOUT),
        success_threshold=_positive_or(raw.get("successThreshold"), DEFAULT_SUCCESS_THRESHOLD),
        failure_threshold=_positive_or(raw.get("failureThreshold"), DEFAULT_FAILURE_THRESHOLD),
        termination_grace_period=None if grace is None else int(grace),
    )


def handler_from_json(raw: Mapping[str, Any] | None) -> Handler | None:
    """Inverse of dataclasses.asdict for a handler (PodPlan.from_json)."""
    if raw is None:
        return None
    body = dict(raw)
    cls = _HANDLER_TYPES[body.pop("kind")]
    if "command" in body:
        body["command"] = tuple(body["command"])
    if "headers" in body:
        body["headers"] = tuple((k, v) for k, v in body["headers"])
    handler: Handler = cls(**body)
    return handler


def probe_from_json(raw: Mapping[str, Any] | None) -> ProbeSpec | None:
    if raw is None:
        return None
    handler = handler_from_json(raw["handler"])
    assert handler is not None
    return ProbeSpec(**{**raw, "handler": handler})


# --- the per-probe state machine (prober/worker.go) ----------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeState:
    """One probe of one container instance.

    `result` is what the probe publishes: True (success), False (failure), None (unknown,
    the startup probe before its first verdict). `last` and `run` count the current run of
    equal results, up to the threshold that publishes it (the kubelet's resultRun counts on,
    which changes nothing once the result is published; here a settled probe's state stays
    the same object, one probe a second for every container); `on_hold` stops probing
    after a liveness or startup failure until a new container (id) appears.
    """

    probe_type: ProbeType
    container_id: str
    result: bool | None
    last: bool | None = None
    run: int = 0
    on_hold: bool = False


def initial_state(probe_type: ProbeType, container_id: str) -> ProbeState:
    """The kubelet's initial values: liveness success, readiness failure, startup unknown."""
    initial = {ProbeType.LIVENESS: True, ProbeType.READINESS: False, ProbeType.STARTUP: None}
    return ProbeState(probe_type, container_id, initial[probe_type])


@dataclass(frozen=True, slots=True)
class ProbeEvent:
    """An event the kubelet's prober records against the container."""

    type: str  # Warning
    reason: str  # Unhealthy | ProbeWarning
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    state: ProbeState
    events: tuple[ProbeEvent, ...] = ()
    changed: bool = False  # the published result changed
    kill: str = ""  # non-empty: kill the container, with this message


@dataclass(frozen=True, slots=True)
class ProbeKill:
    """A liveness or startup probe failed: kill this container instance (the prober asks,
    the pod controller kills; the probe type says whose grace period applies)."""

    pod_uid: str
    container: str
    container_id: str
    probe_type: ProbeType
    message: str


def kill_message(probe_type: ProbeType, container: str, *, restart_policy: str) -> str:
    """kuberuntime's computePodActions message for a container that failed liveness/startup."""
    message = f"Container {container} failed {probe_type.value.lower()} probe"
    if restart_policy != "Never":
        message += ", will be restarted"
    return message


def _events(probe_type: ProbeType, outcome: Outcome) -> tuple[ProbeEvent, ...]:
    """prober.probe's events for one run (pkg/kubelet/prober/prober.go)."""
    if outcome.result is Result.FAILURE:
        msg = f"{probe_type.value} probe failed: {outcome.output}"
        return (ProbeEvent("Warning", "Unhealthy", msg),)
    if outcome.result is Result.WARNING:
        msg = f"{probe_type.value} probe warning: {outcome.output}"
        return (ProbeEvent("Warning", "ProbeWarning", msg),)
    if outcome.result is Result.UNKNOWN:
        msg = f"{probe_type.value} probe errored and resulted in unknown state: {outcome.output}"
        return (ProbeEvent("Warning", "Unhealthy", msg),)
    return ()


def observe_result(
    state: ProbeState,
    outcome: Outcome,
    spec: ProbeSpec,
    *,
    container: str,
    restart_policy: str,
) -> Verdict:
    """Fold one handler run into the probe's state (worker.doProbe after the probe ran)."""
    events = _events(state.probe_type, outcome)
    if outcome.result is Result.UNKNOWN or state.on_hold:
        return Verdict(state, events)  # a prober error: the result is thrown away
    ok = outcome.result in (Result.SUCCESS, Result.WARNING)
    threshold = spec.success_threshold if ok else spec.failure_threshold
    if state.last == ok and state.run >= threshold and state.result == ok:
        return Verdict(state, events)  # the same settled result again: nothing to change
    run = state.run + 1 if state.last == ok else 1
    state = replace(state, last=ok, run=run)
    if run < threshold:
        return Verdict(state, events)  # below the threshold: the published result stays
    changed = state.result != ok
    state = replace(state, result=ok)
    kill = ""
    if not ok and state.probe_type in (ProbeType.LIVENESS, ProbeType.STARTUP):
        state = replace(state, on_hold=True, run=0)
        kill = kill_message(state.probe_type, container, restart_policy=restart_policy)
    return Verdict(state, events, changed=changed, kill=kill)


def should_probe(
    state: ProbeState,
    spec: ProbeSpec,
    *,
    started_at: float,
    now: float,
    started: bool,
) -> bool:
    """Whether the probe runs now (worker.doProbe's gates before running the handler).

    No probe while on hold or during initialDelaySeconds after the container started; the
    startup probe runs only until the container has started, the others only after.
    """
    if state.on_hold:
        return False
    if int(now - started_at) < spec.initial_delay:
        return False
    if state.probe_type is ProbeType.STARTUP:
        return not started
    return started


def kill_grace_period(spec: ProbeSpec | None, *, pod_grace: int) -> int:
    """Grace period for a kill after a liveness/startup failure: the probe's own
    terminationGracePeriodSeconds when set, else the pod's."""
    if spec is not None and spec.termination_grace_period is not None:
        return spec.termination_grace_period
    return pod_grace


def container_started(*, running: bool, startup: ProbeSpec | None, result: bool | None) -> bool:
    """containerStatus.started: running and, with a startup probe, that probe succeeded."""
    return running and (startup is None or result is True)


def container_ready(*, started: bool, readiness: ProbeSpec | None, result: bool | None) -> bool:
    """containerStatus.ready: started and, with a readiness probe, that probe succeeded;
    without one a started container is ready (Kubernetes' default)."""
    return started and (readiness is None or result is True)


# --- lifecycle -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LifecycleSpec:
    post_start: Handler | None = None
    pre_stop: Handler | None = None
    stop_signal: str = ""  # lifecycle.stopSignal ("" = the image's, else SIGTERM)


def _hook(raw: Mapping[str, Any] | None, ports: Sequence[PortRef]) -> Handler | None:
    """A lifecycle handler; tcpSocket is kept by the API for compatibility only and never
    run by the kubelet, so it is no hook (validation warns about it)."""
    handler = parse_handler(raw, ports) if raw else None
    return None if isinstance(handler, TCPSocketAction) else handler


def parse_lifecycle(raw: Mapping[str, Any] | None, ports: Sequence[PortRef] = ()) -> LifecycleSpec:
    raw = raw or {}
    return LifecycleSpec(
        post_start=_hook(raw.get("postStart"), ports),
        pre_stop=_hook(raw.get("preStop"), ports),
        stop_signal=str(raw.get("stopSignal") or ""),
    )


def lifecycle_from_json(raw: Mapping[str, Any] | None) -> LifecycleSpec:
    if raw is None:
        return LifecycleSpec()
    return LifecycleSpec(
        post_start=handler_from_json(raw.get("post_start")),
        pre_stop=handler_from_json(raw.get("pre_stop")),
        stop_signal=str(raw.get("stop_signal") or ""),
    )
