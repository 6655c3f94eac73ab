"""Pod changes: play, down, delete. Each returns a report for the CLI.

play: load + validate every document (nothing is created on any error) -> pull images per
pull policy (in parallel; a failed pull is a warning and leaves that container waiting
ErrImagePull, as the kubelet does) -> compile plans -> store the desired pods in one
transaction -> sync them (in parallel) -> on any failure remove every pod this play created
and report the step that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from kubeplay import crash
from kubeplay.engine import host as host_mod
from kubeplay.errors import AlreadyExistsError, ManifestError, NotFoundError, UsageError
from kubeplay.kube import workloads as kube_workloads
from kubeplay.services import objects as objects_mod
from kubeplay.services.objects import AppliedObjects
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord

if TYPE_CHECKING:
    from pathlib import Path

    from kubeplay.engine.images import ImageResult
    from kubeplay.image.pulls import PullProgress
    from kubeplay.image.transport import Options
    from kubeplay.kube.objects import KubeObject
    from kubeplay.plan.apply import ApplyActions, ApplyEntry
    from kubeplay.plan.pods import PodPlan
    from kubeplay.services.apply import ApplyReport

T = TypeVar("T")
# Workload kinds whose own controllers make their pods (engine.controllers): played, removed
# by down with their pods.
SET_KINDS = ("StatefulSet", "DaemonSet")

# The kinds play runs (refused again without --replace) and down removes with their pods.
_RUN_KINDS = frozenset({"Pod", *kube_workloads.KINDS, *SET_KINDS, "Job", "CronJob"})


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


def pull_images(
    settings: Settings,
    host: host_mod.Host,
    plans: Sequence[PodPlan],
    *,
    options: Options | None,
    progress: PullProgress | None,
) -> tuple[dict[tuple[str, str], ImageResult], list[str]]:
    """Every image of the pods, ensured per its container's pull policy (in parallel) before
    they are synced, by (image as written, pull policy). A failed pull is not an error of the
    play: the pod is created with the container waiting ErrImagePull (as the kubelet does),
    and a warning names it. Plans do not depend on this: the image's config is added when
    each container is created."""
    from kubeplay.engine import images as images_mod

    users: dict[tuple[str, str], list[str]] = {}
    for plan in plans:
        for ctr in plan.all_containers():
            users.setdefault((ctr.image, ctr.pull_policy), []).append(
                f"pod {plan.ref}: container {ctr.name}"
            )
    results = images_mod.ensure_images(
        host, users, options=options, progress=progress, parallelism=settings.parallelism
    )
    notes = [
        f"{who}: image {result.image}: {result.reason}: {result.message}"
        for key, result in results.items()
        if result.ref is None
        for who in users[key]
    ]
    return results, notes


def load_manifests(
    paths: Sequence[str],
    *,
    kube_version: str,
    configmaps: Sequence[str] = (),
    schema_cache: Path | None = None,
) -> tuple[list[KubeObject], list[str]]:
    """Load and validate `paths` and the `--configmap` files together (one duplicate check).
    `schema_cache`: a directory for compiled schemas (valid objects then skip jsonschema)."""
    from kubeplay.kube import loader, validate

    objects = loader.load(paths)
    extra = loader.load(configmaps) if configmaps else []
    if not objects and not extra:  # as kubectl apply: empty files, documents or Lists
        raise ManifestError(
            "no objects passed to apply",
            source=", ".join("<stdin>" if p == loader.STDIN else p for p in paths),
        )
    objects_mod.check_configmap_files(extra)
    compiled = None
    if schema_cache is not None:
        from kubeplay.state.schemacache import CompiledSchemaCache

        compiled = CompiledSchemaCache(schema_cache)
    warnings = validate.validate(objects + extra, kube_version=kube_version, compiled=compiled)
    return objects + extra, [w.render() for w in warnings]


def schema_cache_of(settings: Settings) -> Path | None:
    """Where compiled schemas are kept; none on a fresh host, where input that is refused
    must leave nothing behind, not even a cache."""
    try:
        return settings.schema_cache_dir if settings.root.is_dir() else None
    except OSError:  # not even readable (not root): validation goes on without the cache
        return None


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
    """`play` is an apply in mode PLAY (create; a stored Pod or workload is refused "use
    --replace"; ConfigMaps, Secrets and claims are created or updated) or REPLACE, in the
    source `play`, through the same step as `apply`. Any refusal changes nothing."""
    from kubeplay.plan import apply as plan_apply
    from kubeplay.services import apply as apply_svc

    objects, warnings = load_manifests(
        paths,
        kube_version=kube_version or settings.kube_version,
        configmaps=configmaps,
        schema_cache=schema_cache_of(settings),
    )
    mode = plan_apply.ApplyMode.REPLACE if replace else plan_apply.ApplyMode.PLAY
    if not replace and any(o.kind in _RUN_KINDS for o in objects):
        _precheck(settings, objects)  # refused anyway: before any pull (again under the locks)
    report = apply_svc.run(
        settings,
        objects,
        source=plan_apply.PLAY_SOURCE,
        mode=mode,
        warnings=warnings,
        pull_options=pull_options,
        progress=progress,
        refuse=lambda actions: _refuse(actions, objects),
        verb="play",
    )
    crash.point("play-done")
    return _play_report(settings, report)


def _precheck(settings: Settings, objects: Sequence[KubeObject]) -> None:
    from kubeplay.engine import apply as engine_apply
    from kubeplay.plan import apply as plan_apply

    extra = plan_apply.custom_kinds(objects, ())
    keys = [plan_apply.key_of(o, extra=extra) for o in objects]
    host = host_mod.open_host(settings)
    try:
        records = engine_apply.stored_for(host.store, keys)
    finally:
        host.close()
    actions = plan_apply.compute_apply(
        objects,
        [engine_apply.applied_record(r) for r in records],
        source=plan_apply.PLAY_SOURCE,
        mode=plan_apply.ApplyMode.PLAY,
    )
    _refuse(actions, objects)


def _refuse(actions: ApplyActions, objects: Sequence[KubeObject]) -> None:
    """A play changes nothing when anything is refused: an existing Pod or workload (use
    --replace), an immutable ConfigMap/Secret changed, an object another source owns."""
    from kubeplay.plan import apply as plan_apply
    from kubeplay.plan import configdata

    reasons = plan_apply.Reason
    for e in actions.refused:
        if e.reason is reasons.EXISTS:
            raise AlreadyExistsError(f"{e.message} (use --replace to play it again)")
    for e in actions.refused:
        if e.reason is reasons.IMMUTABLE and e.key.kind in configdata.CONFIG_KINDS:
            obj = next(o for o in objects if (o.kind, o.name) == (e.key.kind, e.key.name))
            problems = configdata.immutable_problems(e.key.kind, dict(e.before), dict(e.body))
            path, message = problems[0] if problems else ("", e.message)
            raise ManifestError(
                f"{e.key.kind} {e.key.namespace}/{e.key.name} exists: Forbidden: {message}"
                + "".join(f"; {p}: Forbidden: {m}" for p, m in problems[1:]),
                source=obj.source,
                doc_index=obj.doc_index,
                kind=obj.kind,
                name=obj.name,
                path=path,
                line=obj.line_of(path),
            )
    for e in actions.refused:
        if e.reason is not reasons.PRUNE_DISABLED:
            raise AlreadyExistsError(e.message)


def _play_report(settings: Settings, report: ApplyReport) -> PlayReport:
    """play's report from the apply's: pods and workloads created, what was replaced, every
    other kind (ConfigMaps, Secrets, Services, ServiceAccounts...) as kubectl apply says them,
    volumes made, warnings."""
    actions = report.actions
    made = [*actions.create, *(e for e in actions.update if e.effect == "recreate")]

    def ns_ref(e: ApplyEntry) -> str:
        return f"{e.key.namespace}/{e.ref}"

    replaced = [e for e in actions.update if e.effect == "recreate"]
    host = host_mod.open_host(settings)
    try:
        notes = _config_errors(host, [p for uid in report.new_pods if (p := _pod(host, uid))])
    finally:
        host.close()
    return PlayReport(
        pods=tuple(f"{e.key.namespace}/{e.key.name}" for e in made if e.key.kind == "Pod"),
        replaced=tuple(
            f"{e.key.namespace}/{e.key.name}" if e.key.kind == "Pod" else ns_ref(e)
            for e in replaced
        ),
        warnings=(*report.warnings, *notes),
        workloads=tuple(ns_ref(e) for e in made if e.key.kind in _RUN_KINDS - {"Pod"}),
        objects=AppliedObjects(
            created=tuple(e.ref for e in actions.create if e.key.kind not in _RUN_KINDS),
            configured=tuple(e.ref for e in actions.update if e.key.kind not in _RUN_KINDS),
            unchanged=tuple(e.ref for e in actions.unchanged if e.key.kind not in _RUN_KINDS),
        ),
        volumes=report.volumes,
    )


def _pod(host: host_mod.Host, uid: str) -> PodRecord | None:
    return host.store.get_pod_by_uid(uid)


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


def down(
    settings: Settings,
    paths: Sequence[str],
    *,
    grace: float | None = None,
    volumes: bool = False,
) -> DownReport:
    """Remove the pods, workloads, Services, ConfigMaps and Secrets the files define (an
    apply in mode DOWN); with `volumes`, also the named volumes of their
    PersistentVolumeClaims and of the claims their pods use (unless another pod uses one)."""
    from dataclasses import replace as with_fields

    from kubeplay.kube import kinds as kinds_mod
    from kubeplay.kube import loader, validate
    from kubeplay.plan import apply as plan_apply
    from kubeplay.plan import configdata
    from kubeplay.services import volumes as volumes_svc

    objects = loader.load(paths)
    validate.check_names(objects)  # names a lock file or a store key is made from
    refs = [(o.namespace, o.name) for o in objects if o.kind == "Pod"]
    claims = [o.name for o in objects if o.kind == "PersistentVolumeClaim"]
    set_claims: list[tuple[str, str]] = []
    if volumes:
        host = host_mod.open_host(settings)
        try:
            claims += volumes_svc.claims_of_pods(host, refs)
            set_claims = _set_claims(host, objects)
        finally:
            host.close()
    kinds = {
        *_RUN_KINDS,
        "ReplicaSet",
        *configdata.CONFIG_KINDS,
        "Service",
        "EndpointSlice",
        "Endpoints",
    }
    if volumes:
        kinds.add("PersistentVolumeClaim")
    report = _remove(settings, [o for o in objects if o.kind in kinds], grace=grace)
    gone = {e.ref for e in report.actions.prune}
    extra = plan_apply.custom_kinds(objects, ())
    removed = [
        kinds_mod.ref(plan_apply.key_of(o, extra=extra))
        for o in objects
        if o.kind in (*configdata.CONFIG_KINDS, "Service", "EndpointSlice", "Endpoints")
    ]
    down_report = DownReport(
        removed=tuple(f"{ns}/{name}" for ns, name in dict.fromkeys(refs) if f"pod/{name}" in gone),
        absent=tuple(f"{ns}/{name}" for ns, name in refs if f"pod/{name}" not in gone),
        workloads=tuple(
            f"{e.key.namespace}/{e.ref}"
            for e in report.actions.prune
            if e.key.kind in _RUN_KINDS - {"Pod"}
        ),
        objects=tuple(dict.fromkeys(r for r in removed if r in gone)),
    )
    if not volumes:
        return down_report
    removed_volumes, kept = volumes_svc.remove_claims(settings, claims)
    removed_volumes += _remove_set_claims(settings, set_claims)
    return with_fields(down_report, volumes=tuple(removed_volumes), volumes_in_use=tuple(kept))


def _set_claims(host: host_mod.Host, objects: Sequence[KubeObject]) -> list[tuple[str, str]]:
    """(namespace, claim) of every ordinal claim of the StatefulSets `objects` name."""
    from kubeplay.engine.controllers import statefulsets

    found: list[tuple[str, str]] = []
    for obj in objects:
        if obj.kind == "StatefulSet":
            rec = host.store.get_record("apps", obj.kind, obj.namespace, obj.name)
            if rec is not None:
                found += [(obj.namespace, n) for n in statefulsets.claim_names(host, rec)]
    return found


def _remove_set_claims(settings: Settings, claims: Sequence[tuple[str, str]]) -> list[str]:
    """`down --volumes` of a StatefulSet: its claims and their data, its pods being gone."""
    from kubeplay.engine.controllers import statefulsets

    if not claims:
        return []
    host = host_mod.open_host(settings)
    try:
        for namespace, name in claims:
            statefulsets.remove_claim(host, namespace, name)
    finally:
        host.close()
    return [name for _, name in claims]


def delete(
    settings: Settings, namespace: str, names: Sequence[str], *, grace: float | None = None
) -> DownReport:
    from kubeplay.kube import validate
    from kubeplay.kube.objects import KubeObject

    problem = validate.name_problem(namespace, rule=validate.DNS1123_LABEL)
    if problem:
        raise UsageError(f"namespace: {problem}")
    for name in names:
        problem = validate.name_problem(name)
        if problem:
            raise UsageError(f"pod: {problem}")
    pods = [
        KubeObject(
            body={
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace},
            },
            source="<command line>",
        )
        for name in dict.fromkeys(names)
    ]
    report = _remove(settings, pods, grace=grace)
    gone = {e.key.name for e in report.actions.prune}
    absent = [n for n in names if n not in gone]
    if absent:
        raise NotFoundError(f'pods "{", ".join(absent)}" not found')
    return DownReport(removed=tuple(f"{namespace}/{n}" for n in names), absent=())


def _remove(
    settings: Settings, objects: Sequence[KubeObject], *, grace: float | None
) -> ApplyReport:
    """Tear down and remove what `objects` name (an apply of nothing for them)."""
    from kubeplay.plan import apply as plan_apply
    from kubeplay.services import apply as apply_svc

    return apply_svc.run(
        settings, objects, source="", mode=plan_apply.ApplyMode.DOWN, grace=grace, verb="down"
    )
