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
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from kubeplay.engine import host as host_mod
from kubeplay.engine import pods as engine
from kubeplay.errors import AlreadyExistsError, KubeplayError, NotFoundError, SyncError
from kubeplay.plan import pods as plans
from kubeplay.plan.images import ImageRef, default_pull_policy, normalize_reference
from kubeplay.services.locks import pod_locks
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord

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


@dataclass(frozen=True, slots=True)
class DownReport:
    removed: tuple[str, ...]
    absent: tuple[str, ...]


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


def load_manifests(
    paths: Sequence[str], *, kube_version: str
) -> tuple[list[KubeObject], list[str]]:
    from kubeplay.kube import loader, validate

    objects = loader.load(paths)
    warnings = validate.validate(objects, kube_version=kube_version)
    return objects, [w.render() for w in warnings]


def play(
    settings: Settings,
    paths: Sequence[str],
    *,
    replace: bool = False,
    kube_version: str = "",
    pull_options: Options | None = None,
    progress: PullProgress | None = None,
) -> PlayReport:
    from kubeplay.engine import network

    objects, warnings = load_manifests(paths, kube_version=kube_version or settings.kube_version)
    pods = [o for o in objects if o.kind == "Pod"]
    host = host_mod.open_host(settings)
    try:
        if not pods:
            return PlayReport(pods=(), replaced=(), warnings=tuple(warnings))
        host_mod.require_runtime(host)
        images, failed, notes = _image_refs(
            settings, host, pods, options=pull_options, progress=progress
        )
        now = time.time()
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
        with pod_locks(settings.locks_dir, refs):
            replaced: list[str] = []
            if not replace:
                for ns, name in refs:
                    if host.store.get_pod(ns, name) is not None:
                        raise AlreadyExistsError(
                            f"pod {ns}/{name}: already exists (use --replace to play it again)"
                        )
            network.check_host_ports(
                host,
                [plans.from_json(r.plan_json) for r in records],
                replacing={f"{ns}/{name}" for ns, name in refs} if replace else set(),
            )
            if replace:
                old = [r for ns, name in refs if (r := host.store.get_pod(ns, name))]
                errors = _parallel(settings, lambda r: engine.teardown_pod(host, r), old)
                if errors:
                    raise errors[0]
                replaced = [f"{r.namespace}/{r.name}" for r in old]
            host.store.add_pods(records)
            errors = _parallel(
                settings,
                lambda r: engine.sync_pod(
                    host, plans.from_json(r.plan_json), image_failures=failed
                ),
                records,
            )
            if errors:
                _rollback(host, records)
                network.refresh(host)
                raise _first_sync_error(errors)
            network.refresh(host)
        return PlayReport(
            pods=tuple(f"{ns}/{name}" for ns, name in refs),
            replaced=tuple(replaced),
            warnings=tuple(warnings + notes),
        )
    finally:
        host.close()


def _first_sync_error(errors: list[BaseException]) -> BaseException:
    for err in errors:
        if isinstance(err, KubeplayError):
            return SyncError(
                f"{err} (everything this play created was removed)",
                step=getattr(err, "step", "sync"),
            )
    return errors[0]


def _rollback(host: host_mod.Host, records: Sequence[PodRecord]) -> None:
    for rec in records:
        current = host.store.get_pod_by_uid(rec.uid)
        if current is not None:
            engine.teardown_pod(host, current, grace=0)


def down(settings: Settings, paths: Sequence[str], *, grace: float | None = None) -> DownReport:
    from kubeplay.kube import loader

    objects = loader.load(paths)
    refs = [(o.namespace, o.name) for o in objects if o.kind == "Pod"]
    return _remove(settings, refs, grace=grace)


def delete(
    settings: Settings, namespace: str, names: Sequence[str], *, grace: float | None = None
) -> DownReport:
    report = _remove(settings, [(namespace, n) for n in names], grace=grace)
    if report.absent:
        raise NotFoundError(f'pods "{", ".join(report.absent)}" not found')
    return report


def _remove(
    settings: Settings, refs: Sequence[tuple[str, str]], *, grace: float | None
) -> DownReport:
    from kubeplay.engine import network

    host = host_mod.open_host(settings)
    try:
        with pod_locks(settings.locks_dir, refs):
            found = [r for ns, name in refs if (r := host.store.get_pod(ns, name))]
            absent = [f"{ns}/{name}" for ns, name in refs if not host.store.get_pod(ns, name)]
            if found:
                host_mod.require_runtime(host)
            errors = _parallel(settings, lambda r: engine.teardown_pod(host, r, grace=grace), found)
            if found:
                network.refresh(host)
            if errors:
                raise errors[0]
        return DownReport(
            removed=tuple(f"{r.namespace}/{r.name}" for r in found), absent=tuple(absent)
        )
    finally:
        host.close()
