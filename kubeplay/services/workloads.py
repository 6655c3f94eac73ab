"""Workloads: imperative verbs on Deployments and ReplicaSets (`scale`, `rollout ...`), and
the helpers `generate kube` uses to find a workload's pods.

Each verb writes the object under its key lock (what kubectl sends the API server), then
runs the workload controllers once in this process for it (`engine.reconcile`: a scale up
creates and starts its pods here, a scale down marks the excess terminating) and leaves the
rest to the supervisor, which the CLI nudges. A field the applying source's manifest sets
is warned about: the next apply of a changed manifest sets it again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kubeplay.engine import host as host_mod
from kubeplay.errors import NotFoundError, UsageError
from kubeplay.kube import kinds, workloads
from kubeplay.settings import Settings
from kubeplay.state.store import WorkloadRecord

if TYPE_CHECKING:
    from kubeplay.kube.kinds import KindInfo
    from kubeplay.state.store import ObjectRecord

SCALABLE = frozenset({"Deployment", "ReplicaSet"})


@dataclass(frozen=True, slots=True)
class WorkloadReport:
    lines: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def random_suffix() -> str:
    """RANDOM_LENGTH characters of the apiserver's alphabet (utilrand.String)."""
    import secrets

    return "".join(secrets.choice(workloads.ALPHANUMS) for _ in range(workloads.RANDOM_LENGTH))


def as_workload(rec: WorkloadRecord) -> workloads.Workload:
    return workloads.Workload(
        kind=rec.kind, namespace=rec.namespace, name=rec.name, uid=rec.uid, manifest=rec.manifest
    )


def targets(
    settings: Settings, resource: str, names: Sequence[str], *, allowed: frozenset[str]
) -> tuple[KindInfo, list[str]]:
    """`deployment/web` or `deployment web...`: the kind and names, as kubectl reads them."""
    from kubeplay.services import resources

    info = resources.resolve(settings, resource)
    _, _, name = resource.partition("/")
    wanted = [name] if name else []
    wanted += list(names)
    if info.kind not in allowed:
        raise UsageError(f"{info.resource}: cannot be scaled or rolled out by kubeplay")
    if not wanted:
        raise UsageError("a resource name is required (KIND/NAME or KIND NAME)")
    return info, wanted


def update(
    settings: Settings,
    info: KindInfo,
    namespace: str,
    name: str,
    change: Callable[[dict[str, Any]], list[str]],
) -> tuple[ObjectRecord, list[str], bool]:
    """Change a stored object's body under its key lock: `change` edits the body in place
    and returns the spec fields it set (a spec change bumps generation). (the record as
    written, the fields changed, whether anything changed)."""
    from kubeplay.engine import locks
    from kubeplay.kube.kinds import ObjectKey

    host = host_mod.open_host(settings)
    try:
        key = ObjectKey(info.group, info.kind, namespace, name)
        with locks.key_locks(settings.locks_dir, [key]):
            rec = host.store.get_record(*key)
            if rec is None:
                raise NotFoundError(f'{info.resource} "{name}" not found')
            body = copy.deepcopy(rec.body)
            fields = change(body)
            if body == rec.body:
                return rec, fields, False
            spec_changed = body.get("spec") != rec.body.get("spec")
            generation = rec.generation + (1 if spec_changed else 0)
            meta = body.setdefault("metadata", {})
            meta["generation"] = generation
            written = replace(
                rec, body=body, generation=generation, content_hash="", updated_at=time.time()
            )
            host.store.put_records([written])
            return written, fields, True
    finally:
        host.close()


def source_warnings(rec: ObjectRecord, paths: Sequence[str]) -> list[str]:
    """Rule 7: fields the applying source's manifest sets, which its next apply reverts."""
    last = rec.last_applied or {}
    out: list[str] = []
    for path in paths:
        value: Any = last
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and rec.source:
            ref = kinds.ref(kinds.ObjectKey(rec.api_group, rec.kind, rec.namespace, rec.name))
            where = f" (file {rec.origin.split('#')[0]})" if rec.origin else ""
            out.append(
                f"{ref} {path.rsplit('.', 1)[-1]} is set by source {rec.source}{where}; "
                "the next apply of a changed manifest reverts it"
            )
    return out


def run_controllers(settings: Settings, keys: Sequence[tuple[str, str, str]]) -> list[str]:
    """The workload controllers once, here, for (kind, namespace, name) keys; the pods they
    made are started here too. Returns what failed to start (the supervisor retries)."""
    from kubeplay.engine import network, reconcile
    from kubeplay.engine.loop import ObjectKey as LoopKey

    host = host_mod.open_host(settings)
    try:
        done = reconcile.reconcile(host, [LoopKey(*k) for k in keys])
        starting = list(done.pods)
        if not starting:
            return []
        host_mod.require_runtime(host)
        errors = reconcile.start_pods(host, starting, parallelism=settings.parallelism)
        network.refresh(host)
        return [str(e) for e in errors]
    finally:
        host.close()


def scale(
    settings: Settings,
    resource: str,
    names: Sequence[str],
    *,
    replicas: int,
    namespace: str,
) -> WorkloadReport:
    """`scale KIND/NAME --replicas N` (kubectl's): spec.replicas written, then the
    controllers run once for each object (pods created and started, or marked for
    deletion)."""
    info, wanted = targets(settings, resource, names, allowed=SCALABLE)
    lines: list[str] = []
    warnings: list[str] = []
    changed: list[tuple[str, str, str]] = []

    def set_replicas(body: dict[str, Any]) -> list[str]:
        body.setdefault("spec", {})["replicas"] = replicas
        return ["spec.replicas"]

    for name in wanted:
        rec, fields, did = update(settings, info, namespace, name, set_replicas)
        ref = kinds.ref(kinds.ObjectKey(info.group, info.kind, namespace, name))
        lines.append(f"{ref} scaled")
        if did:
            warnings += source_warnings(rec, fields)
            changed.append((info.kind, namespace, name))
    warnings += run_controllers(settings, changed)
    return WorkloadReport(lines=tuple(lines), warnings=tuple(warnings))
