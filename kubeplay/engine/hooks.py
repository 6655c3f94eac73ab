"""Lifecycle hooks: postStart right after a container starts, preStop before its stop signal.

The kubelet's lifecycle handler runner (pkg/kubelet/lifecycle/handlers.go) for exec (through
the OCI runtime), httpGet (from the host to the pod IP or `host`; only a request that got no
response fails, the status code does not matter) and sleep. Called by engine.pods: a failed
postStart hook records FailedPostStartHook and the caller kills the container; a failed
preStop hook records FailedPreStopHook and stopping goes on. preStop hooks of a pod run
together, each bounded by the grace period. The functions here are synchronous (the engine's
pod functions are); they run their coroutines on a private event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import sqlite3
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from kubeplay import log
from kubeplay.engine import probes as probe_handlers
from kubeplay.engine.host import Host
from kubeplay.errors import KubeplayError
from kubeplay.plan import probes
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan
from kubeplay.state.store import PodRecord

# postStart may block a container's start for this long before it counts as failed (the
# kubelet waits without limit; a play would hang on a stuck hook).
POST_START_TIMEOUT = 120.0
# What is left of the grace period after preStop hooks is never less than this (kubelet's
# minimumGracePeriodInSeconds).
MIN_GRACE_AFTER_PRE_STOP = 2.0

_log = log.get_logger(__name__)
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code, also when this thread runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _pod_label(plan: PodPlan) -> str:
    """format.Pod: `name_namespace(uid)`, as the kubelet's hook messages name a pod."""
    return f"{plan.name}_{plan.namespace}({plan.uid})"


def _field_path(ctr: ContainerPlan) -> str:
    group = "initContainers" if ctr.kind == ContainerKind.INIT else "containers"
    return f"spec.{group}{{{ctr.name}}}"


def pod_address(host: Host, plan: PodPlan, rec: PodRecord) -> str:
    return host.host_ip if plan.host_network else rec.pod_ip


async def run_handler(
    host: Host,
    plan: PodPlan,
    ctr: ContainerPlan,
    handler: probes.Handler,
    *,
    container_id: str,
    pod_ip: str,
    timeout: float,
) -> str | None:
    """Run one lifecycle handler; None on success, else the kubelet's failure message."""
    label = _pod_label(plan)
    try:
        async with asyncio.timeout(timeout):
            match handler:
                case probes.ExecAction(command=command):
                    code, out = await host.runtime.exec_output(
                        container_id, command, timeout=timeout + 1, limit=probes.MAX_OUTPUT
                    )
                    if code == 0:
                        return None
                    text = out.decode("utf-8", "replace")
                    shown = " ".join(command)
                    return (
                        f'Exec lifecycle hook ([{shown}]) for Container "{ctr.name}" in Pod '
                        f"\"{label}\" failed - error: command '{shown}' exited with {code}: "
                        f"{text}, message: {json.dumps(text)}"
                    )
                case probes.HTTPGetAction():
                    if handler.port_name and not handler.port:
                        missing = f"port {handler.port_name} not found"
                        return f"HTTP lifecycle hook ({handler.path}): {missing}"
                    url = probe_handlers.build_url(
                        handler.scheme, handler.host or pod_ip, handler.port, handler.path
                    )
                    agent = f"kube-lifecycle/{probe_handlers.kube_version()}"
                    headers = probe_handlers.request_headers(handler.headers, user_agent=agent)
                    try:
                        await probe_handlers.http_get(url, headers)
                    except probe_handlers.HttpError as err:
                        return (
                            f'HTTP lifecycle hook ({handler.path}) for Container "{ctr.name}" '
                            f'in Pod "{label}" failed - error: {err}'
                        )
                    return None
                case probes.SleepAction(seconds=seconds):
                    await asyncio.sleep(seconds)
                    return None
                case _:
                    return f"lifecycle hook for Container {ctr.name!r}: unsupported handler"
    except TimeoutError:
        return (
            f'lifecycle hook for Container "{ctr.name}" in Pod "{label}" did not finish '
            f"within {timeout:g}s"
        )
    except KubeplayError as err:
        return f'lifecycle hook for Container "{ctr.name}" in Pod "{label}" failed - error: {err}'


def _event(host: Host, plan: PodPlan, ctr: ContainerPlan, reason: str, message: str) -> None:
    with contextlib.suppress(sqlite3.IntegrityError):  # the pod is gone from the store
        host.store.add_event(
            plan.uid,
            type="Warning",
            reason=reason,
            message=message,
            field_path=_field_path(ctr),
            at=time.time(),
        )


def run_post_start(
    host: Host, plan: PodPlan, rec: PodRecord, ctr: ContainerPlan, *, container_id: str
) -> bool:
    """Run the container's postStart hook, if any; False (after a FailedPostStartHook event)
    when it failed and the caller must kill the container."""
    if ctr.post_start is None:
        return True
    error = _run(
        run_handler(
            host,
            plan,
            ctr,
            ctr.post_start,
            container_id=container_id,
            pod_ip=pod_address(host, plan, rec),
            timeout=POST_START_TIMEOUT,
        )
    )
    if error is None:
        return True
    _log.warning("post_start_hook_failed", pod=plan.ref, container=ctr.name, error=error)
    _event(host, plan, ctr, "FailedPostStartHook", error)
    return False


def run_pre_stop(
    host: Host,
    plan: PodPlan,
    rec: PodRecord,
    targets: Sequence[tuple[ContainerPlan, str]],
    *,
    grace: float,
) -> float:
    """Run the preStop hooks of (container plan, container id) together, each bounded by the
    grace period; return the grace period left for the stop signal (the kubelet subtracts the
    time the hooks took, leaving at least 2 s). Failures become FailedPreStopHook events."""
    hooked = [(ctr, cid) for ctr, cid in targets if ctr.pre_stop is not None]
    if not hooked or grace <= 0:
        return grace
    started = time.monotonic()
    pod_ip = pod_address(host, plan, rec)

    async def all_hooks() -> list[str | None]:
        return await asyncio.gather(
            *(
                run_handler(
                    host, plan, ctr, ctr.pre_stop, container_id=cid, pod_ip=pod_ip, timeout=grace
                )
                for ctr, cid in hooked
                if ctr.pre_stop is not None
            )
        )

    for (ctr, _), error in zip(hooked, _run(all_hooks()), strict=True):
        if error is not None:
            _log.warning("pre_stop_hook_failed", pod=plan.ref, container=ctr.name, error=error)
            _event(host, plan, ctr, "FailedPreStopHook", error)
    return max(grace - (time.monotonic() - started), MIN_GRACE_AFTER_PRE_STOP)
