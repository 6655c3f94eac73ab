"""Pod changes: play, down, delete. Each returns a report for the CLI.

play: load + validate every document (nothing is created on any error) -> pull images per
pull policy (in parallel; a failed pull is a warning and leaves that container waiting
ErrImagePull, as the kubelet does) -> compile plans -> store the desired pods in one
transaction -> sync them (in parallel) -> on any failure remove every pod this play created
and report the step that failed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from kubeplay import crash
from kubeplay.engine import host as host_mod
from kubeplay.engine import pods as engine
from kubeplay.errors import AlreadyExistsError, KubeplayError, NotFoundError, SyncError
from kubeplay.kube import workloads as kube_workloads
from kubeplay.plan import pods as plans
from kubeplay.plan.images import ImageRef, default_pull_policy, normalize_reference
from kubeplay.services import objects as objects_mod
from kubeplay.services.locks import pod_locks
from kubeplay.services.objects import AppliedObjects
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord, WorkloadRecord

if TYPE_CHECKING:
    from kubeplay.engine.images import ImageResult
    from kubeplay.image.pulls import PullProgress
    from kubeplay.image.transport import Options
    from kubeplay.kube.objects import KubeObject

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PlayReport:
    pods: tuple[str, ...]
    replaced: tuple[str, ...]
    warnings: tuple[str, ...]
    workloads: tuple[str, ...] = ()  # "ns/deployment.apps/web", for the workloads played
    volumes: tuple[str, ...] = ()  # named volumes this play created
    objects: AppliedObjects = field(default_factory=AppliedObjects)


@dataclass(frozen=True, slots=True)
class DownReport:
    removed: tuple[str, ...]
    absent: tuple[str, ...]
    workloads: tuple[str, ...] = ()  # "ns/deployment.apps/web", for the workloads removed
    volumes: tuple[str, ...] = ()  # named volumes removed (down --volumes)
    volumes_in_use: tuple[str, ...] = ()  # kept: another pod still uses them
    objects: tuple[str, ...] = ()  # configmap/NAME, secret/NAME removed


def _parallel(
    settings: Settings, fn: Callable[[T], None], items: Sequence[T]
) -> list[BaseException]:
    if not items:
        return []
    from concurrent.futures import ThreadPoolExecutor

    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=max(1, min(settings.parallelism, len(items)))) as pool:
        for fut in [pool.submit(fn, item) for item in items]:
            exc = fut.exception()
            if exc is not None:
                errors.append(exc)
    return errors


def _image_refs(
    settings: Settings,
    host: host_mod.Host,
    pods: Sequence[KubeObject],
    *,
    options: Options | None,
    progress: PullProgress | None,
) -> tuple[dict[str, ImageRef], dict[str, ImageResult], list[str]]:
    """Every image of the pods, pulled per its container's policy (in parallel) before the
    plans are compiled. A failed pull is not an error of the play: the pod is created with
    the container waiting ErrImagePull (as the kubelet does), and a warning names it."""
    from kubeplay.engine import images as images_mod

    users: dict[tuple[str, str], list[str]] = {}
    for obj in pods:
        spec = obj.body.get("spec") or {}
        for group in ("initContainers", "containers"):
            for ctr in spec.get(group) or ():
                image = str(ctr.get("image") or "")
                policy = str(
                    ctr.get("imagePullPolicy") or default_pull_policy(normalize_reference(image))
                )
                users.setdefault((image, policy), []).append(
                    f"pod {obj.namespace}/{obj.name}: container {ctr['name']}"
                )
    results = images_mod.ensure_images(
        host, users, options=options, progress=progress, parallelism=settings.parallelism
    )
    found: dict[str, ImageRef] = {}
    failed: dict[str, ImageResult] = {}
    notes: list[str] = []
    for key, result in results.items():
        if result.ref is not None:
            found.setdefault(result.ref.ref, result.ref)
            continue
        failed[result.image] = result
        for who in users[key]:
            notes.append(f"{who}: image {result.image}: {result.reason}: {result.message}")
    return found, failed, notes


def _refuse_existing(
    host: host_mod.Host, refs: Sequence[tuple[str, str]], workloads: Sequence[WorkloadRecord]
) -> None:
    """A play without --replace of a pod or workload that is stored already fails."""
    for ns, name in refs:
        if host.store.get_pod(ns, name) is not None:
            raise AlreadyExistsError(
                f"pod {ns}/{name}: already exists (use --replace to play it again)"
            )
    for w in workloads:
        if host.store.get_workload(w.namespace, w.kind, w.name) is not None:
            raise AlreadyExistsError(
                f"{w.kind.lower()} {w.namespace}/{w.name}: already exists "
                "(use --replace to play it again)"
            )


def load_manifests(
    paths: Sequence[str], *, kube_version: str, configmaps: Sequence[str] = ()
) -> tuple[list[KubeObject], list[str]]:
    """Load and validate `paths` and the `--configmap` files together (one duplicate check)."""
    from kubeplay.kube import loader, validate

    objects = loader.load(paths)
    extra = loader.load(configmaps) if configmaps else []
    objects_mod.check_configmap_files(extra)
    warnings = validate.validate(objects + extra, kube_version=kube_version)
    return objects + extra, [w.render() for w in warnings]


def play(
    settings: Settings,
    paths: Sequence[str],
    *,
    replace: bool = False,
    kube_version: str = "",
    configmaps: Sequence[str] = (),
    pull_options: Options | None = None,
    progress: PullProgress | None = None,
) -> PlayReport:
    from kubeplay.engine import network
    from kubeplay.engine import volumes as engine_volumes
    from kubeplay.services import volumes as volumes_svc
    from kubeplay.services import workloads as workloads_mod

    objects, warnings = load_manifests(
        paths, kube_version=kube_version or settings.kube_version, configmaps=configmaps
    )
    pods = [o for o in objects if o.kind == "Pod"]
    configs = objects_mod.config_objects(objects)
    host = host_mod.open_host(settings)
    try:
        now = time.time()
        workloads, replicas = workloads_mod.expand(host, objects, pods=pods, now=now)
        pods += replicas
        if not pods and not workloads:
            made = volumes_svc.ensure_claims(host, objects, ())
            applied = objects_mod.apply(settings, host.store, configs)
            engine_volumes.refresh_object_volumes(host, _updated(applied))
            return PlayReport(
                pods=(),
                replaced=(),
                warnings=tuple(warnings),
                objects=applied,
                volumes=tuple(made),
            )
        host_mod.require_runtime(host)
        if not replace:  # refused anyway: before any pull (checked again under the locks)
            _refuse_existing(host, [(o.namespace, o.name) for o in pods], workloads)
        images, failed, notes = _image_refs(
            settings, host, pods, options=pull_options, progress=progress
        )
        records = []
        for obj in pods:
            plan = plans.compile_pod(obj.body, uid=str(uuid.uuid4()), images=images)
            records.append(
                PodRecord(
                    uid=plan.uid,
                    namespace=plan.namespace,
                    name=plan.name,
                    source=obj.source,
                    manifest=obj.body,
                    plan_json=plans.to_json(plan),
                    created_at=now,
                )
            )
        refs = [(r.namespace, r.name) for r in records]
        engine_volumes.check_host_paths([plans.from_json(r.plan_json) for r in records])
        wrefs = [workloads_mod.lock_ref(w.namespace, w.kind, w.name) for w in workloads]
        # The pods a --replace removes are locked too: a pod being torn down unlocked would
        # look to the supervisor like one whose `down` was killed.
        rrefs = _replica_refs(host, workloads) if replace else []
        with pod_locks(settings.locks_dir, refs + wrefs + rrefs):
            replaced: list[str] = []
            old_workloads = [
                stored
                for w in workloads
                if (stored := host.store.get_workload(w.namespace, w.kind, w.name))
            ]
            if not replace:
                _refuse_existing(host, refs, workloads)
            old_replicas = [p for w in old_workloads for p in workloads_mod.pods_of(host, w)]
            network.check_host_ports(
                host,
                [plans.from_json(r.plan_json) for r in records],
                replacing={f"{ns}/{name}" for ns, name in refs}
                | {f"{p.namespace}/{p.name}" for p in old_replicas}
                if replace
                else set(),
            )
            applied = objects_mod.apply(settings, host.store, configs)
            engine_volumes.refresh_object_volumes(host, _updated(applied))
            made = []
            try:
                if replace:
                    old = [r for ns, name in refs if (r := host.store.get_pod(ns, name))]
                    old += old_replicas
                    errors = _parallel(settings, lambda r: engine.teardown_pod(host, r), old)
                    if errors:
                        raise errors[0]
                    for w in old_workloads:
                        host.store.delete_workload(w.uid)
                    replaced = [f"{r.namespace}/{r.name}" for r in old if r not in old_replicas]
                    replaced += [
                        f"{w.namespace}/{workloads_mod.describe(w)}" for w in old_workloads
                    ]
                made = volumes_svc.ensure_claims(
                    host, objects, [plans.from_json(r.plan_json) for r in records]
                )
                host.store.add_pods(records, workloads=workloads)
                crash.point("play-stored")
            except BaseException:
                volumes_svc.remove_unused(host, made)
                objects_mod.undo(settings, host.store, applied)
                engine_volumes.refresh_object_volumes(host, _updated(applied))
                raise
            errors = _parallel(
                settings,
                lambda r: engine.sync_pod(
                    host, plans.from_json(r.plan_json), image_failures=failed
                ),
                records,
            )
            if errors:
                _rollback(host, records, workloads)
                volumes_svc.remove_unused(host, made)
                objects_mod.undo(settings, host.store, applied)
                engine_volumes.refresh_object_volumes(host, _updated(applied))
                network.refresh(host)
                raise _first_sync_error(errors)
            crash.point("play-synced")
            network.refresh(host)
        replica_uids = {r.uid for r in records[len(records) - len(replicas) :]}
        crash.point("play-done")
        return PlayReport(
            pods=tuple(f"{r.namespace}/{r.name}" for r in records if r.uid not in replica_uids),
            replaced=tuple(replaced),
            warnings=tuple(warnings + notes + _config_errors(host, records)),
            workloads=tuple(f"{w.namespace}/{workloads_mod.describe(w)}" for w in workloads),
            objects=applied,
            volumes=tuple(made),
        )
    finally:
        host.close()


def _replica_refs(
    host: host_mod.Host, workloads: Sequence[WorkloadRecord]
) -> list[tuple[str, str]]:
    from kubeplay.services import workloads as workloads_mod

    return [
        (p.namespace, p.name)
        for w in workloads
        if (stored := host.store.get_workload(w.namespace, w.kind, w.name))
        for p in workloads_mod.pods_of(host, stored)
    ]


def _updated(applied: objects_mod.AppliedObjects) -> list[tuple[str, str, str]]:
    """The objects an apply created or changed: volumes using them are rewritten (an
    optional ConfigMap/Secret that appears fills its pods' volumes, as the kubelet's sync)."""
    return [ref for ref, _old in applied.before]


def _config_errors(host: host_mod.Host, records: Sequence[PodRecord]) -> list[str]:
    """A container left waiting with CreateContainerConfigError (a missing ConfigMap or key,
    runAsNonRoot...) does not fail the play, as in Kubernetes: the play warns about it, and
    about env keys skipped as invalid names."""
    notes: list[str] = []
    for rec in records:
        notes.extend(
            f"pod {rec.namespace}/{rec.name}: {e.message}"
            for e in host.store.list_events(rec.uid)
            if e.reason == "InvalidEnvironmentVariableNames"
        )
        current = host.store.get_pod_by_uid(rec.uid)
        for c in current.containers if current else ():
            if c.waiting_reason == "CreateContainerConfigError" and not c.container_id:
                notes.append(
                    f"pod {rec.namespace}/{rec.name}: container {c.name}: "
                    f"CreateContainerConfigError: {c.waiting_message}"
                )
    return notes


def _first_sync_error(errors: list[BaseException]) -> BaseException:
    for err in errors:
        if isinstance(err, KubeplayError):
            return SyncError(
                f"{err} (everything this play created was removed)",
                step=getattr(err, "step", "sync"),
            )
    return errors[0]


def _rollback(
    host: host_mod.Host, records: Sequence[PodRecord], workloads: Sequence[WorkloadRecord] = ()
) -> None:
    for rec in records:
        current = host.store.get_pod_by_uid(rec.uid)
        if current is not None:
            engine.teardown_pod(host, current, grace=0)
    for w in workloads:
        host.store.delete_workload(w.uid)


def down(
    settings: Settings,
    paths: Sequence[str],
    *,
    grace: float | None = None,
    volumes: bool = False,
) -> DownReport:
    """Remove the pods the files define; with `volumes`, also the named volumes of their
    PersistentVolumeClaims and of the claims their pods use (unless another pod uses one)."""
    from dataclasses import replace as with_fields

    from kubeplay.engine import volumes as engine_volumes
    from kubeplay.kube import loader
    from kubeplay.services import volumes as volumes_svc

    objects = loader.load(paths)
    refs = [(o.namespace, o.name) for o in objects if o.kind == "Pod"]
    workloads = [(o.namespace, o.kind, o.name) for o in objects if o.kind in kube_workloads.KINDS]
    claims = [o.name for o in objects if o.kind == "PersistentVolumeClaim"]
    if volumes:
        host = host_mod.open_host(settings)
        try:
            claims += volumes_svc.claims_of_pods(host, refs)
        finally:
            host.close()
    report = _remove(settings, refs, grace=grace, workloads=workloads)
    configs = objects_mod.config_objects(objects)
    if configs:
        host = host_mod.open_host(settings)
        try:
            removed = objects_mod.remove_defined(settings, host.store, configs)
            engine_volumes.refresh_object_volumes(
                host, [(o.kind, o.namespace, o.name) for o in configs]
            )
        finally:
            host.close()
        report = with_fields(report, objects=tuple(removed))
    if not volumes:
        return report
    removed_volumes, kept = volumes_svc.remove_claims(settings, claims)
    return with_fields(report, volumes=tuple(removed_volumes), volumes_in_use=tuple(kept))


def delete(
    settings: Settings, namespace: str, names: Sequence[str], *, grace: float | None = None
) -> DownReport:
    report = _remove(settings, [(namespace, n) for n in names], grace=grace)
    if report.absent:
        raise NotFoundError(f'pods "{", ".join(report.absent)}" not found')
    return report


def _remove(
    settings: Settings,
    refs: Sequence[tuple[str, str]],
    *,
    grace: float | None,
    workloads: Sequence[tuple[str, str, str]] = (),
) -> DownReport:
    from kubeplay.engine import network
    from kubeplay.services import workloads as workloads_mod

    refs = list(dict.fromkeys(refs))  # two files may name the same pod: tear it down once
    workloads = list(dict.fromkeys(workloads))
    host = host_mod.open_host(settings)
    try:
        wrefs = [workloads_mod.lock_ref(*w) for w in workloads]
        replica_refs: set[tuple[str, str]] = set()
        while True:  # all locks at once, in order; a workload's pods may change meanwhile
            with pod_locks(settings.locks_dir, [*refs, *wrefs, *replica_refs]):
                stored = [w for key in workloads if (w := host.store.get_workload(*key))]
                replicas = [p for w in stored for p in workloads_mod.pods_of(host, w)]
                if not {(p.namespace, p.name) for p in replicas} <= replica_refs:
                    replica_refs |= {(p.namespace, p.name) for p in replicas}
                    continue
                found = [r for ns, name in refs if (r := host.store.get_pod(ns, name))]
                absent = [f"{ns}/{name}" for ns, name in refs if not host.store.get_pod(ns, name)]
                found += [p for p in replicas if p.uid not in {r.uid for r in found}]
                if found:
                    host_mod.require_runtime(host)
                errors = _parallel(
                    settings, lambda r: engine.teardown_pod(host, r, grace=grace), found
                )
                if found:
                    network.refresh(host)
                if errors:
                    raise errors[0]
                for w in stored:
                    host.store.delete_workload(w.uid)
                break
        replica_uids = {p.uid for p in replicas}
        return DownReport(
            removed=tuple(f"{r.namespace}/{r.name}" for r in found if r.uid not in replica_uids),
            absent=tuple(absent),
            workloads=tuple(f"{w.namespace}/{workloads_mod.describe(w)}" for w in stored),
        )
    finally:
        host.close()
