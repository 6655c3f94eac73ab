"""The API server's rules for probes, lifecycle hooks and stopSignal that the schema cannot say.

From pkg/apis/core/validation (validateProbe, validateHandler, validateLifecycle,
validateContainerStopSignal, validateInitContainers): one handler per probe or hook, liveness
and startup successThreshold 1, no probe-level grace period on readiness, no probes or hooks
on init containers that are not sidecars, port numbers and IANA port names, sleep within the
grace period, stopSignal only with `spec.os.name` and only a Linux signal name.
`validate._check_container` calls `check_container`; this returns (field path, message) pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_HOOK_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
_TIMING = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
)
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
LINUX_STOP_SIGNALS = frozenset(
    [
        *(
            f"SIG{s}"
            for s in [
                "ABRT",
                "ALRM",
                "BUS",
                "CHLD",
                "CLD",
                "CONT",
                "FPE",
                "HUP",
                "ILL",
                "INT",
                "IO",
                "IOT",
                "KILL",
                "PIPE",
                "POLL",
                "PROF",
                "PWR",
                "QUIT",
                "SEGV",
                "STKFLT",
                "STOP",
                "SYS",
                "TERM",
                "TRAP",
                "TSTP",
                "TTIN",
                "TTOU",
                "URG",
                "USR1",
                "USR2",
                "VTALRM",
                "WINCH",
                "XCPU",
                "XFSZ",
                "RTMIN",
                "RTMAX",
            ]
        ),
        *(f"SIGRTMIN+{i}" for i in range(1, 16)),
        *(f"SIGRTMAX-{i}" for i in range(1, 15)),
    ]
)

Problem = tuple[str, str]


def _port(value: Any, path: str) -> Iterator[Problem]:
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            yield path, f"invalid port {value}: must be between 1 and 65535"
        return
    text = str(value)
    if (
        len(text) > 15
        or not _IANA_SVC_NAME.fullmatch(text)
        or "--" in text
        or not re.search("[a-z]", text)
    ):
        yield (
            path,
            f"invalid port name {text!r}: must be at most 15 lowercase letters, digits or "
            "'-', with at least one letter, no '--', starting and ending with a letter or digit",
        )


def _handler(
    body: Mapping[str, Any], path: str, *, kinds: tuple[str, ...], grace: int
) -> Iterator[Problem]:
    given = [k for k in kinds if body.get(k) is not None]
    if not given:
        yield path, "must specify a handler type"
        return
    if len(given) > 1:
        yield f"{path}.{given[1]}", "may not specify more than 1 handler type"
        return
    kind = given[0]
    spec = body[kind]
    where = f"{path}.{kind}"
    if kind == "exec" and not spec.get("command"):
        yield f"{where}.command", "required"
    if kind in ("httpGet", "tcpSocket", "grpc"):
        yield from _port(spec.get("port"), f"{where}.port")
    if kind == "httpGet" and spec.get("scheme") not in (None, "HTTP", "HTTPS"):
        yield f"{where}.scheme", f"unsupported value {spec['scheme']!r}: must be one of HTTP, HTTPS"
    if kind == "sleep" and not 0 <= int(spec.get("seconds") or 0) <= grace:
        yield (
            f"{where}.seconds",
            f"must be between 0 and terminationGracePeriodSeconds ({grace})",
        )


def _probe(probe: Mapping[str, Any], field: str, path: str) -> Iterator[Problem]:
    yield from _handler(probe, path, kinds=_PROBE_HANDLERS, grace=0)
    for name in _TIMING:
        value = probe.get(name)
        if value is not None and value < 0:
            yield f"{path}.{name}", "must be greater than or equal to 0"
    if field in ("livenessProbe", "startupProbe") and probe.get("successThreshold") not in (
        None,
        0,
        1,
    ):
        yield f"{path}.successThreshold", "must be 1"
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None:
        if field == "readinessProbe":
            yield f"{path}.terminationGracePeriodSeconds", "must not be set for readinessProbes"
        elif grace <= 0:
            yield f"{path}.terminationGracePeriodSeconds", "must be greater than 0"


def check_pod(spec: Mapping[str, Any], prefix: str) -> list[Problem]:
    """spec.os.name: a Linux node admits only Linux pods (the kubelet fails the others)."""
    name = (spec.get("os") or {}).get("name")
    if name not in (None, "linux"):
        return [(f"{prefix}.os.name", f"unsupported value {name!r}: kubeplay runs Linux pods only")]
    return []


def check_container(
    container: Mapping[str, Any],
    path: str,
    *,
    init: bool,
    pod_spec: Mapping[str, Any],
) -> list[Problem]:
    """Problems with the container's probes, lifecycle and stopSignal."""
    problems: list[Problem] = []
    sidecar = container.get("restartPolicy") == "Always"
    grace = pod_spec.get("terminationGracePeriodSeconds")
    grace = 30 if grace is None else int(grace)
    for field in PROBES:
        probe = container.get(field)
        if not probe:
            continue
        if init and not sidecar:
            message = "may not be set for init containers without restartPolicy=Always"
            problems.append((f"{path}.{field}", message))
            continue
        problems.extend(_probe(probe, field, f"{path}.{field}"))
    lifecycle = container.get("lifecycle") or {}
    if lifecycle and init and not sidecar:
        message = "may not be set for init containers without restartPolicy=Always"
        return [*problems, (f"{path}.lifecycle", message)]
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            problems.extend(
                _handler(
                    lifecycle[hook], f"{path}.lifecycle.{hook}", kinds=_HOOK_HANDLERS, grace=grace
                )
            )
    signal = lifecycle.get("stopSignal")
    if signal is not None:
        os_name = (pod_spec.get("os") or {}).get("name")
        where = f"{path}.lifecycle.stopSignal"
        if not os_name:
            problems.append((where, "may not be set for containers with empty `spec.os.name`"))
        elif os_name == "linux" and signal not in LINUX_STOP_SIGNALS:
            problems.append((where, f"{signal} is not a valid signal for linux"))
    return problems
