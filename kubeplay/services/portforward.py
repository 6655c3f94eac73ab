"""port-forward: kubectl's `port-forward TYPE/NAME [[ADDR:]LOCAL:]REMOTE...` on this host.

Resolves the target to one pod (a Service or Deployment to one of its Ready pods, as kubectl
picks one), each REMOTE to that pod's port (a Service port to its targetPort in the pod),
listens on the given addresses (127.0.0.1 by default) and relays each connection into the
pod's network namespace (`net.forward`). Runs until stopped; what it forwards is fixed at
start, as kubectl's.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubeplay.engine import host as host_mod
from kubeplay.errors import NotFoundError, UsageError
from kubeplay.settings import Settings


@dataclass(frozen=True, slots=True)
class Forward:
    address: str
    local: int  # 0: pick a free one
    remote: int  # the pod's port


@dataclass(frozen=True, slots=True)
class Target:
    pod: str  # namespace/name
    netns: Path
    forwards: tuple[Forward, ...]


_KINDS = {
    "pod": "Pod",
    "pods": "Pod",
    "po": "Pod",
    "svc": "Service",
    "service": "Service",
    "services": "Service",
    "deploy": "Deployment",
    "deployment": "Deployment",
    "deployments": "Deployment",
}


def resolve(
    settings: Settings,
    namespace: str,
    resource: str,
    ports: Sequence[str],
    *,
    addresses: Sequence[str] = ("127.0.0.1",),
) -> Target:
    """The pod, its netns and the port pairs of `port-forward RESOURCE PORTS`."""
    from kubeplay.engine import network
    from kubeplay.kube import workloads
    from kubeplay.plan import pods as plans
    from kubeplay.plan import services as service_plan

    kind_word, sep, name = resource.partition("/")
    if not sep:
        kind_word, name = "pod", resource
    kind = _KINDS.get(kind_word.lower())
    if kind is None or not name:
        raise UsageError(f"port-forward: {resource!r}: give pod/NAME, svc/NAME or deploy/NAME")
    if not ports:
        raise UsageError("port-forward: at least one port is needed, e.g. 8080:80")
    try:
        parsed = []
        for p in ports:
            addr, pair = service_plan.split_forward_address(p)
            parsed.append((addr, *service_plan.parse_forward(pair)))
    except ValueError as err:
        raise UsageError(f"port-forward: {err}") from err
    host = host_mod.open_host(settings)
    try:
        infos = {}
        for rec in host.store.list_pods(namespace):
            if rec.pod_ip and rec.netns and rec.lifecycle == "active":
                infos[rec.name] = (rec, network.pod_info(host, rec, plans.from_json(rec.plan_json)))
        svc = None
        if kind == "Pod":
            if name not in infos:
                raise NotFoundError(f'pod "{name}" not found in namespace "{namespace}"')
            chosen = name
        else:
            group = "apps" if kind == "Deployment" else ""
            obj = host.store.get_record(group, kind, namespace, name)
            if obj is None:
                resource_name = "deployments.apps" if kind == "Deployment" else "services"
                raise NotFoundError(
                    f'{resource_name} "{name}" not found in namespace "{namespace}"'
                )
            spec = obj.body.get("spec") or {}
            if kind == "Service":
                svc = service_plan.service_spec(obj.body)
                selector = svc.selector

                def picked(labels: Mapping[str, str]) -> bool:
                    return service_plan.selects(selector, labels)
            else:  # a LabelSelector: matchLabels and matchExpressions

                def picked(labels: Mapping[str, str]) -> bool:
                    chosen = spec.get("selector") or {}
                    return bool(chosen) and workloads.selector_matches(chosen, labels)

            ready = sorted(
                n
                for n, (_, info) in infos.items()
                if picked(info.labels) and info.ready and not info.terminating
            )
            if not ready:
                raise NotFoundError(f"{kind_word.lower()}/{name}: no Ready pod to forward to")
            chosen = ready[0]
        rec, info = infos[chosen]
        forwards = []
        for addr, local, remote in parsed:
            try:
                port = (
                    service_plan.service_target(svc, remote, info)
                    if svc is not None
                    else service_plan.container_port(remote, info)
                )
            except ValueError as err:
                raise UsageError(f"port-forward: {err}") from err
            forwards += [Forward(a, local or 0, port) for a in ([addr] if addr else addresses)]
        return Target(pod=f"{namespace}/{chosen}", netns=Path(rec.netns), forwards=tuple(forwards))
    finally:
        host.close()


def run(target: Target, *, stop: threading.Event, ready: Callable[[str], None]) -> None:
    """Listen and relay until `stop`; `ready` gets kubectl's `Forwarding from A:L -> R`."""
    from kubeplay.net import forward

    servers = [(forward.listen(f.address, f.local), f) for f in target.forwards]
    threads = []
    for server, f in servers:
        port = server.getsockname()[1]
        shown = f"[{f.address}]" if ":" in f.address else f.address
        ready(f"Forwarding from {shown}:{port} -> {f.remote}")
        t = threading.Thread(
            target=forward.serve,
            args=(server, functools.partial(forward.connect_in, target.netns, f.remote), stop),
            daemon=True,
        )
        t.start()
        threads.append(t)
    stop.wait()
    for t in threads:
        t.join(timeout=2)
