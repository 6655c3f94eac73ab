"""apply, diff and delete -f: kubectl's declarative verbs over the one object store.

`apply`: load + validate every document (any error: nothing changes, exit 2) -> under the
per-key locks, `plan.apply.compute_apply` against the stored records -> the runtime work the
decision needs (pull and compile the pods to create, tear down what is recreated or pruned)
-> `engine.apply.write` in one store transaction -> start the new pods, restart a Pod's
containers whose image changed in place, refresh volumes of changed ConfigMaps/Secrets -> on a
failed start, tear down what this apply created and restore the previous bodies. A refused
object (immutable, a watched source's or a controller's) is reported; the others apply. An
unchanged apply makes no runtime call. The source (applyset) is the PATH set, so `--prune`
removes only what an earlier apply of the same paths created; an object another apply or
`play` stored is taken over (the last writer wins, as with kubectl), so the other's `--prune`
no longer removes it. `diff` is the same decision, rendered as unified diffs.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubeplay import crash
from kubeplay.engine import host as host_mod
from kubeplay.errors import KubeplayError, NotFoundError, SyncError, UsageError
from kubeplay.kube import kinds
from kubeplay.kube.kinds import ObjectKey
from kubeplay.plan import apply as plan_apply
from kubeplay.plan.apply import ApplyActions, ApplyEntry, ApplyMode, Effect
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.engine.images import ImageResult
    from kubeplay.image.pulls import PullProgress
    from kubeplay.image.transport import Options
    from kubeplay.kube.objects import KubeObject
    from kubeplay.kube.objects import Warning as ManifestWarning
    from kubeplay.plan.pods import PodPlan
    from kubeplay.plan.services import ServiceSpec
    from kubeplay.state.store import ObjectRecord, PodRecord

CONFIG_KINDS = frozenset({"ConfigMap", "Secret"})
# Kinds whose change rewrites the node network (rules and names) and needs the supervisor.
SERVICE_KINDS = frozenset({"Service", "EndpointSlice", "Endpoints"})
# Kinds whose pods their controllers make (engine.reconcile runs them for what apply touched).
WORKLOAD_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})
BATCH_KINDS = frozenset({"Job", "CronJob"})  # run by the supervisor's controllers
# What the workload controllers make besides pods (a rolled-back apply removes them).
MADE_KINDS = ("ReplicaSet", "ControllerRevision", "PersistentVolumeClaim")
# Entries that are errors of the apply (a PRUNE_DISABLED one is only a line).
REFUSALS = frozenset(
    {
        plan_apply.Reason.IMMUTABLE,
        plan_apply.Reason.EXISTS,
        plan_apply.Reason.OWNED_BY_OTHER_SOURCE,
    }
)


@dataclass(frozen=True, slots=True)
class ApplyReport:
    lines: tuple[str, ...] = ()  # kubectl's: `pod/web created`, `configmap/cfg unchanged`
    refused: tuple[str, ...] = ()  # why an object was not applied (the command exits 1)
    warnings: tuple[str, ...] = ()
    not_ready: tuple[str, ...] = ()  # --wait: what was not Ready in time
    pods_changed: bool = False  # the supervisor may be needed
    actions: ApplyActions = field(default_factory=ApplyActions)
    volumes: tuple[str, ...] = ()  # named volumes made for claims
    new_pods: tuple[str, ...] = ()  # uids of the pods started


@dataclass(frozen=True, slots=True)
class DiffReport:
    text: str
    changed: bool
    warnings: tuple[str, ...] = field(default=())


def applyset(paths: Sequence[str]) -> str:
    """The source of an apply: its PATH set, so only an apply of the same paths prunes."""
    return plan_apply.APPLY_SOURCE_PREFIX + ",".join(
        sorted(p if p == "-" else os.path.abspath(p) for p in paths)
    )


def expand_paths(paths: Sequence[str], *, recursive: bool) -> list[str]:
    """With -R, a directory's manifests in every subdirectory (dotfiles skipped), as
    `kubectl apply -R`; without, the loader reads a directory's top level."""
    if not recursive:
        return list(paths)
    from kubeplay.kube.loader import MANIFEST_SUFFIXES

    out: list[str] = []
    for path in paths:
        if path == "-" or not os.path.isdir(path):
            out.append(path)
            continue
        for top, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out.extend(
                os.path.join(top, f)
                for f in sorted(files)
                if f.endswith(MANIFEST_SUFFIXES) and not f.startswith(".")
            )
    return out


def load(
    settings: Settings, paths: Sequence[str], *, recursive: bool, kube_version: str = ""
) -> tuple[list[KubeObject], list[ManifestWarning]]:
    from kubeplay.services import play as play_mod

    files = expand_paths(paths, recursive=recursive)
    if not files:
        raise UsageError("no objects passed to apply")
    return play_mod.load_manifests(
        files,
        kube_version=kube_version or settings.kube_version,
        schema_cache=play_mod.schema_cache_of(settings),
    )


def apply(
    settings: Settings,
    paths: Sequence[str],
    *,
    recursive: bool = False,
    prune: bool = False,
    dry_run: bool = False,
    force: bool = False,
    wait: bool = False,
    timeout: float = 300.0,
    kube_version: str = "",
    pull_options: Options | None = None,
    progress: PullProgress | None = None,
    before_wait: Callable[[ApplyReport], None] | None = None,
) -> ApplyReport:
    """`before_wait` sees the report before `wait` waits (the CLI starts the supervisor
    there: Ready-gated steps, a StatefulSet's next pod, are the supervisor's)."""
    objects, warnings = load(settings, paths, recursive=recursive, kube_version=kube_version)
    report = run(
        settings,
        objects,
        source=applyset(paths),
        mode=ApplyMode.APPLY,
        prune=prune,
        force=force,
        dry_run=dry_run,
        warnings=warnings,
        pull_options=pull_options,
        progress=progress,
    )
    if wait and not dry_run:
        from dataclasses import replace

        if before_wait is not None:
            before_wait(report)
        started = time.monotonic()
        not_ready = _wait_ready(settings, objects, timeout)
        jobs = [(o.namespace, o.name) for o in objects if o.kind == "Job"]
        if jobs:  # Complete, in what is left of the timeout: the supervisor runs them
            from kubeplay.services import supervision

            supervision.ensure_running(settings)
            left = max(0.0, timeout - (time.monotonic() - started))
            not_ready += _wait_complete(settings, jobs, left)
        return replace(report, not_ready=tuple(not_ready))
    return report


def _keys(objects: Sequence[KubeObject]) -> list[ObjectKey]:
    extra = plan_apply.custom_kinds(objects, ())
    return [plan_apply.key_of(o, extra=extra) for o in objects]


def _owned_records(host: host_mod.Host, rec: ObjectRecord) -> list[ObjectRecord]:
    """The objects a workload owns, by owner uid: a Deployment's ReplicaSets, a
    StatefulSet's or DaemonSet's ControllerRevisions and the claims a StatefulSet's
    `whenDeleted: Delete` gave it (removed with it; others are kept, as kubectl does)."""
    owned = {
        "Deployment": ["ReplicaSet"],
        "StatefulSet": ["ControllerRevision", "PersistentVolumeClaim"],
        "DaemonSet": ["ControllerRevision"],
    }.get(rec.kind)
    if not owned:
        return []
    return host.store.list_records(owned, rec.namespace, owner_uid=rec.uid)


def _workload_pods(host: host_mod.Host, rec: ObjectRecord) -> list[PodRecord]:
    """Every pod a workload owns: its own, and its ReplicaSets' (of every revision)."""
    from kubeplay.engine import ownedpods

    owners = {rec.uid, *(r.uid for r in _owned_records(host, rec))}
    return [
        p
        for p in host.store.list_pods(rec.namespace)
        if str(ownedpods.controller_ref(p.manifest).get("uid") or "") in owners
    ]


def _pod_key(pod: PodRecord) -> ObjectKey:
    return ObjectKey("", "Pod", pod.namespace, pod.name)


def run(
    settings: Settings,
    objects: Sequence[KubeObject],
    *,
    source: str,
    mode: ApplyMode,
    prune: bool = False,
    force: bool = False,
    dry_run: bool = False,
    warnings: Sequence[ManifestWarning] = (),
    pull_options: Options | None = None,
    progress: PullProgress | None = None,
    refuse: Callable[[ApplyActions], None] | None = None,
    grace: float | None = None,
    verb: str = "apply",
    keep: frozenset[ObjectKey] = frozenset(),
    background: bool = False,
) -> ApplyReport:
    """Decide and carry out applying `objects` in `source` (see the module's docstring).
    `warnings`: the objects' validation warnings, shown for those created or changed (an
    unchanged object says nothing, as kubectl's unchanged apply sends no request). `refuse`
    sees the decision under the locks and may raise to change nothing (play does for any
    refusal); `grace` overrides the grace period of what is torn down; `verb` names the
    command in the rollback message; `keep`: keys never pruned (a source's conflicts);
    `background`: the pods of pruned owners are left to the supervisor (`delete`'s
    background cascade: marked terminating with the owners' removal, stopped afterwards)."""
    from kubeplay.engine import apply as engine_apply
    from kubeplay.engine.locks import key_locks

    keys = _keys(objects)
    host = host_mod.open_host(settings)
    try:
        inventory = host.store.list_records(source=source) if prune else []
        held = [*keys, *(engine_apply.key_of_record(r) for r in inventory)]
        for key in list(held):  # a workload's pods and ReplicaSets are locked with it
            if key.kind in WORKLOAD_KINDS and (rec := host.store.get_record(*key)):
                held.extend(_pod_key(p) for p in _workload_pods(host, rec))
                held.extend(engine_apply.key_of_record(r) for r in _owned_records(host, rec))
        for key in list(held):  # a Job's pods, a CronJob's Jobs and their pods likewise
            if key.kind in BATCH_KINDS and key.group == "batch":
                from kubeplay.services import jobs as jobs_svc

                held.extend(jobs_svc.dependent_keys(host, key))
        with key_locks(settings.locks_dir, held):
            records = engine_apply.stored_for(host.store, keys, source=source if prune else None)
            actions = plan_apply.compute_apply(
                objects,
                [engine_apply.applied_record(r) for r in records],
                source=source,
                mode=mode,
                force=force,
                prune=prune,
                keep=keep,
            )
            origins = {r.uid: r.origin for r in records}
            if refuse is not None:
                refuse(actions)
            lines = _lines(actions, keys, dry_run=dry_run)
            refused = _refusals(actions)
            said = shown_warnings(actions, warnings)
            moved = {
                e.uid: e.origin
                for e in actions.unchanged
                if e.uid in origins and origins[e.uid] != e.origin and e.origin
            }
            if moved and not dry_run:  # a file rename or move: the origin only, no restart
                host.store.set_origins(moved)
            # Services get their clusterIP now (out of range or taken: exit 2 before anything
            # is made), so that pods created by this apply see them in their service links;
            # the write checks them again in its transaction.
            allocated = engine_apply.allocate_services(
                host.store, [*actions.update, *actions.create], cidr=settings.service_cidr
            )
            actions = dataclasses.replace(
                actions,
                update=tuple(allocated[: len(actions.update)]),
                create=tuple(allocated[len(actions.update) :]),
            )
            if not dry_run:
                _check_node_ports(host, allocated)
            if dry_run or not actions.changes:
                if not dry_run and any(e.taken_from for e in actions.unchanged):
                    engine_apply.write(host.store, actions, source=source, now=time.time())
                return ApplyReport(lines=lines, refused=refused, warnings=said, actions=actions)
            done = _carry_out(
                settings,
                host,
                actions,
                objects,
                keys,
                source=source,
                pull_options=pull_options,
                progress=progress,
                grace=grace,
                verb=verb,
                locked=held,
                background=background,
            )
        pods_changed = any(
            e.key.kind in ("Pod", *SERVICE_KINDS)
            or e.key.kind in WORKLOAD_KINDS
            or e.key.kind in BATCH_KINDS
            for e in (*actions.create, *actions.update, *actions.prune)
        )
        return ApplyReport(
            lines=lines,
            refused=refused,
            warnings=(*said, *done.notes),
            pods_changed=pods_changed,
            actions=actions,
            volumes=done.volumes,
            new_pods=done.new_pods,
        )
    finally:
        host.close()


def _lines(actions: ApplyActions, keys: Sequence[ObjectKey], *, dry_run: bool) -> tuple[str, ...]:
    """kubectl's lines: in apply order (kinds), objects of one kind in input order; prunes
    after."""
    suffix = " (dry run)" if dry_run else ""
    position = {key: i for i, key in reversed(list(enumerate(keys)))}
    applied = sorted(
        (*actions.create, *actions.update, *actions.unchanged, *actions.refused),
        key=lambda e: (plan_apply.apply_rank(e.key.kind), position.get(e.key, len(keys))),
    )
    return tuple(
        f"{e.message}{suffix}" for e in (*applied, *actions.prune) if e.reason not in REFUSALS
    )


def shown_warnings(actions: ApplyActions, warnings: Sequence[ManifestWarning]) -> tuple[str, ...]:
    """The validation warnings of the objects the apply creates, changes or refuses (merged
    across them, rendered), then what the decision itself warns about (a takeover from
    `play`); an unchanged object's warnings were said when it was applied."""
    from kubeplay.kube import validate

    loud = {
        (e.origin, e.key.kind, e.key.name)
        for e in (*actions.create, *actions.update, *actions.refused)
    }
    kept = [
        w for w in warnings if (plan_apply.origin(w.source, w.doc_index), w.kind, w.name) in loud
    ]
    said = [w.render() for w in validate.merge_warnings(kept)]
    return (*said, *(e.warning for e in actions.entries() if e.warning))


def _refusals(actions: ApplyActions) -> tuple[str, ...]:
    return tuple(e.message for e in actions.refused if e.reason in REFUSALS)


def _parallel(settings: Settings, fn: Callable[[Any], None], items: Sequence[Any]) -> None:
    from kubeplay.services.play import _parallel as parallel

    errors = parallel(settings, fn, items)
    if errors:
        raise errors[0]


def _carry_out(
    settings: Settings,
    host: host_mod.Host,
    actions: ApplyActions,
    objects: Sequence[KubeObject],
    keys: Sequence[ObjectKey],
    *,
    source: str,
    pull_options: Options | None,
    progress: PullProgress | None,
    grace: float | None = None,
    verb: str = "apply",
    locked: Sequence[ObjectKey] = (),
    background: bool = False,
) -> _Done:
    """The runtime work around the one-transaction write."""
    from kubeplay.engine import apply as engine_apply
    from kubeplay.engine import network, ownedpods
    from kubeplay.engine import pods as engine
    from kubeplay.engine import volumes as engine_volumes
    from kubeplay.plan import pods as plans
    from kubeplay.plan import services as service_plan
    from kubeplay.services import play as play_mod
    from kubeplay.services import volumes as volumes_svc
    from kubeplay.state.store import PodRecord

    now = time.time()
    desired = dict(zip(keys, objects, strict=True))
    recreate = Effect.RECREATE
    # 1. what runs: Pods created or recreated, Pods whose image changed (restarted in place);
    #    workloads created or changed go to their controllers (engine.reconcile), after the
    #    write.
    new_pods: list[tuple[ObjectKey, KubeObject]] = []
    restarts: list[ApplyEntry] = []
    uids: dict[ObjectKey, str] = {}
    workload_keys: list[ObjectKey] = []
    for e in (*actions.create, *actions.update):
        created = e in actions.create or e.effect is recreate
        if e.key == ObjectKey("", "Pod", e.key.namespace, e.key.name):
            if created:
                new_pods.append((e.key, desired[e.key]))
            elif e.effect is Effect.RESTART:
                restarts.append(e)
        elif e.key.kind in WORKLOAD_KINDS and e.key.group == "apps":
            workload_keys.append(e.key)
        elif verb == "play" and e.key.kind == "Job" and e.key.group == "batch" and created:
            # play runs a new Job's first pods here, as a Pod's or a Deployment's: one the
            # runtime cannot start fails the play, which removes everything (apply leaves
            # that to the Job controller's back-off and backoffLimit, as a cluster does)
            workload_keys.append(e.key)
    # 2. what goes: recreated Pods, recreated or pruned workloads' pods (every revision's)
    #    and the objects they own, pruned Pods
    old_pods: list[PodRecord] = []
    later: list[PodRecord] = []  # background cascade: pods the supervisor removes afterwards
    owned_gone: list[ObjectRecord] = []
    old_jobs: list[str] = []  # a pruned or recreated CronJob's Jobs
    for e in (*actions.update, *actions.prune):
        if e.key.kind == "Pod" and not e.key.group:
            if e in actions.prune or e.effect is recreate:
                pod = host.store.get_pod_by_uid(e.uid)
                old_pods += [pod] if pod is not None else []
        elif e.key.kind in WORKLOAD_KINDS and (e in actions.prune or e.effect is recreate):
            rec = host.store.get_record_by_uid(e.uid)
            if rec is not None:
                owned = _owned_records(host, rec)
                # claims that go with it (whenDeleted: Delete) lose their data once its pods
                # stopped: that one is deleted in the foreground way
                alone = not any(r.kind == "PersistentVolumeClaim" for r in owned)
                pods = _workload_pods(host, rec)
                later += pods if background and alone and e in actions.prune else []
                old_pods += [] if background and alone and e in actions.prune else pods
                owned_gone += owned
        elif (
            e.key.kind in BATCH_KINDS
            and e.key.group == "batch"
            and (e in actions.prune or e.effect is recreate)
        ):  # their pods (and a CronJob's Jobs) go too
            from kubeplay.services import jobs as jobs_svc

            pods, children = jobs_svc.dependents(host, e.key.kind, e.uid)
            if background and e in actions.prune:
                later += pods
            else:
                old_pods += pods
            old_jobs += children
    to_pull = [o for _, o in new_pods]
    to_pull += [desired[e.key] for e in restarts]
    notes: list[str] = []
    plans_by_uid: dict[str, PodPlan] = {}
    pulled: Mapping[tuple[str, str], ImageResult] = {}
    pod_rows: dict[ObjectKey, PodRecord] = {}
    pod_plans: dict[str, str] = {}
    if to_pull or old_pods or workload_keys:
        host_mod.require_runtime(host)
    if to_pull:
        links = _service_specs(host, actions)

        def record(obj: KubeObject, uid: str) -> PodRecord:
            plan = plans.compile_pod(
                obj.body, uid=uid, service_env=service_plan.service_link_env(links, obj.namespace)
            )
            plans_by_uid[uid] = plan
            return PodRecord(
                uid=uid,
                namespace=plan.namespace,
                name=plan.name,
                source=obj.source,
                manifest=obj.body,
                plan_json=plans.to_json(plan),
                created_at=now,
            )

        for key, obj in new_pods:
            uids[key] = str(uuid.uuid4())
            pod_rows[key] = record(obj, uids[key])
        restarted = [
            plans.compile_pod(desired[e.key].body, uid=e.uid, service_env=_service_env(host, e.uid))
            for e in restarts
        ]
        pod_plans.update((plan.uid, plans.to_json(plan)) for plan in restarted)
        new_plans = [p for uid, p in plans_by_uid.items() if uid not in pod_plans]
        engine_volumes.check_host_paths(new_plans)
        network.check_host_ports(
            host,
            new_plans,
            replacing={f"{p.namespace}/{p.name}" for p in old_pods},
            services=links,
        )
        pulled, notes = play_mod.pull_images(
            settings, host, [*new_plans, *restarted], options=pull_options, progress=progress
        )
    if old_pods:
        errors = engine.teardown_pods(host, old_pods, grace=grace, parallelism=settings.parallelism)
        if errors:
            raise errors[0]
    new_rows = list(pod_rows.values())
    # play makes the claims its pods name on first use (podman's kube play); apply makes only
    # the claims it applies, its pods wait for theirs (FailedMount), as the kubelet's do.
    first_use = [plans_by_uid[r.uid] for r in new_rows] if verb == "play" else []
    claims = volumes_svc.ensure_claims(host, objects, first_use)
    try:
        with host.store.batch():  # the owners go and their pods begin to, in one transaction
            written = engine_apply.write(
                host.store,
                actions,
                source=source,
                now=now,
                uids=uids,
                pods=pod_rows,
                pod_plans=pod_plans,
                guard=network.guard_host_ports([plans_by_uid[r.uid] for r in new_rows]),
                service_cidr=settings.service_cidr,
            )
            for pod in later:
                ownedpods.delete(host, pod, now=now)
        pruned_workloads = [
            e.uid for e in actions.prune if e.key.kind in WORKLOAD_KINDS and e.key.group == "apps"
        ]
        host.store.delete_records([*pruned_workloads, *(r.uid for r in owned_gone), *old_jobs])
        for r in owned_gone:  # a claim's data goes with it (its pods are gone already)
            if r.kind == "PersistentVolumeClaim" and host.store.get_volume(r.name) is not None:
                engine_volumes.remove_named_volume(host, r.name)
        crash.point("play-stored") if verb == "play" else crash.point("apply-stored")
    except BaseException:
        volumes_svc.remove_unused(host, claims)
        raise
    for obj in objects:
        if obj.kind == "PersistentVolumeClaim" and obj.name in claims:
            engine_volumes.claim_provisioned(host, obj.namespace, obj.name)
    configs = [
        (e.key.kind, e.key.namespace, e.key.name)
        for e in (*actions.create, *actions.update, *actions.prune)
        if e.key.kind in CONFIG_KINDS and not e.key.group
    ]
    engine_volumes.refresh_object_volumes(host, configs)
    made: list[str] = []  # pods the workload controllers made, in this process
    made_records: list[str] = []  # objects they made (a Deployment's new ReplicaSets)
    services = any(
        e.key.kind in SERVICE_KINDS for e in (*actions.create, *actions.update, *actions.prune)
    )
    try:
        if services and (new_rows or workload_keys):
            # A Service's rules and DNS name exist before any pod of the same apply starts,
            # as in a cluster (kubectl applies Services first, CoreDNS serves them at once):
            # a pod that looks its backend up as it starts finds it.
            network.refresh(host)
        _parallel(
            settings,
            lambda r: engine.sync_pod(host, plans_by_uid[r.uid], pulled=pulled),
            new_rows,
        )
        if workload_keys:
            _reconcile_workloads(
                settings, host, workload_keys, [*keys, *locked], made, made_records
            )
        crash.point("play-synced") if verb == "play" else crash.point("apply-synced")
        if new_rows or old_pods or made or services:  # a failure here rolls back as well
            network.refresh(host)
    except BaseException as err:
        for row in [*new_rows, *(p for uid in made if (p := host.store.get_pod_by_uid(uid)))]:
            current = host.store.get_pod_by_uid(row.uid)
            if current is not None:
                engine.teardown_pod(host, current, grace=0)
        made_claims = [
            c.name
            for uid in made_records
            if (c := host.store.get_record_by_uid(uid)) and c.kind == "PersistentVolumeClaim"
        ]
        host.store.delete_records(made_records)
        engine_apply.rollback(host.store, written)
        volumes_svc.remove_unused(host, [*claims, *made_claims])
        engine_volumes.refresh_object_volumes(host, configs)
        removed = f"everything this {verb} created was removed"
        try:
            network.refresh(host)
        except KubeplayError as again:  # its rules are rewritten by the next refresh
            removed += f"; the node network's refresh failed again: {again}"
        if isinstance(err, KubeplayError):
            raise SyncError(f"{err} ({removed})", step=getattr(err, "step", "sync")) from err
        raise
    for e in restarts:  # in place, in pods that were there before: after the refresh
        plan = plans.from_json(pod_plans[e.uid])
        engine.restart_containers(host, plan, e.restart_containers)
    return _Done(
        notes=tuple(notes),
        volumes=tuple(claims),
        new_pods=(*(r.uid for r in new_rows), *made),
    )


def _service_env(host: host_mod.Host, uid: str) -> tuple[tuple[str, str], ...]:
    """The Services' variables a pod got when it was made (kept across in-place updates)."""
    from kubeplay.plan import pods as plans

    current = host.store.get_pod_by_uid(uid)
    return plans.from_json(current.plan_json).service_env if current is not None else ()


def _reconcile_workloads(
    settings: Settings,
    host: host_mod.Host,
    workload_keys: Sequence[ObjectKey],
    locked: Sequence[ObjectKey],
    made: list[str],
    made_records: list[str],
) -> None:
    """Run the workload controllers once, here, for the workloads this apply wrote (their
    ReplicaSets, then their pods), then start the pods they made, as play starts its own:
    the first failure is raised, for the caller's rollback of what `made` (pod uids) and
    `made_records` (object uids) list. The rest of a rollout is the supervisor's."""
    from kubeplay.engine import reconcile
    from kubeplay.engine.loop import ObjectKey as LoopKey

    pods_before = {p.uid for p in host.store.list_pods()}
    records_before = {r.uid for r in host.store.list_records(MADE_KINDS)}
    held = frozenset(LoopKey(k.kind, k.namespace, k.name) for k in locked)
    try:
        done = reconcile.reconcile(
            host,
            [LoopKey(k.kind, k.namespace, k.name) for k in workload_keys],
            controllers=reconcile.workload_controllers(host, held=held),
        )
    finally:
        made.extend(p.uid for p in host.store.list_pods() if p.uid not in pods_before)
        made_records.extend(
            r.uid for r in host.store.list_records(MADE_KINDS) if r.uid not in records_before
        )
    errors = reconcile.start_pods(host, done.pods, parallelism=settings.parallelism, held=held)
    if errors:
        raise errors[0]
    # once more, now that the pods run: their status (and the next rollout step, whose pods
    # the supervisor starts) is there when the command returns
    reconcile.reconcile(
        host,
        [LoopKey(k.kind, k.namespace, k.name) for k in workload_keys],
        controllers=reconcile.workload_controllers(host, held=held),
    )


def _check_node_ports(host: host_mod.Host, entries: Sequence[ApplyEntry]) -> None:
    """Refuse a Service's new nodePort that a pod's hostPort or a process on the host holds
    (a nodePort answers on every host address, as a hostPort does)."""
    from kubeplay.net import ports as host_ports
    from kubeplay.plan import pods as plans

    wanted: list[tuple[str, int, str]] = []
    for e in entries:
        if e.key.kind != "Service" or e.key.group:
            continue
        before = {
            (p.get("nodePort"), p.get("protocol") or "TCP")
            for p in (e.before.get("spec") or {}).get("ports") or ()
        }
        for p in (e.body.get("spec") or {}).get("ports") or ():
            proto = str(p.get("protocol") or "TCP")
            if p.get("nodePort") and (p["nodePort"], proto) not in before:
                wanted.append((f"service/{e.key.name}", int(p["nodePort"]), proto))
    if not wanted:
        return
    held = {
        (hp.host_port, hp.protocol): rec.name
        for rec in host.store.list_pods()
        for hp in plans.from_json(rec.plan_json).host_ports()
    }
    for ref, port, proto in wanted:
        if (port, proto) in held:
            raise SyncError(
                f"{ref}: nodePort {port}/{proto}: already a hostPort of pod {held[(port, proto)]}",
                step="network",
            )
        if host_ports.port_in_use("0.0.0.0", port, proto):
            raise SyncError(
                f"{ref}: nodePort {port}/{proto}: already in use by a process on the host",
                step="network",
            )


def _service_specs(host: host_mod.Host, actions: ApplyActions) -> list[ServiceSpec]:
    """The Services there will be once `actions` are written: the stored ones with this
    apply's (created before the pods, as apply orders them), without the pruned ones."""
    from kubeplay.plan import services as service_plan

    bodies = {
        (r.namespace, r.name): r.body
        for r in host.store.list_records(["Service"])
        if not r.api_group
    }
    for e in (*actions.create, *actions.update):
        if e.key.kind == "Service" and not e.key.group:
            body = dict(e.body)
            body["metadata"] = {**(body.get("metadata") or {}), "namespace": e.key.namespace}
            bodies[(e.key.namespace, e.key.name)] = body
    for e in actions.prune:
        if e.key.kind == "Service" and not e.key.group:
            bodies.pop((e.key.namespace, e.key.name), None)
    return [service_plan.service_spec(b) for b in bodies.values()]


@dataclass(frozen=True, slots=True)
class _Done:
    notes: tuple[str, ...]
    volumes: tuple[str, ...]
    new_pods: tuple[str, ...]


def rolled_out(rec: ObjectRecord) -> bool:
    """A Deployment's (or ReplicaSet's) status says its controller is done with its
    generation: every replica updated and available, no old one left (DeploymentComplete).
    A StatefulSet's or DaemonSet's: its controller's own test of the status it wrote."""
    if rec.kind in ("StatefulSet", "DaemonSet"):
        from kubeplay.engine.controllers import daemonsets, statefulsets

        if rec.kind == "StatefulSet":
            return statefulsets.settled(rec)
        return daemonsets.settled(rec)
    status = rec.body.get("status") or {}
    spec = rec.body.get("spec") or {}
    wanted = 1 if spec.get("replicas") is None else int(spec["replicas"])
    if int(status.get("observedGeneration") or 0) < rec.generation:
        return False
    updated = status.get("updatedReplicas", status.get("replicas"))
    return (
        updated == wanted
        and status.get("replicas") == wanted
        and status.get("availableReplicas") == wanted
    )


def _wait_ready(settings: Settings, objects: Sequence[KubeObject], timeout: float) -> list[str]:
    """--wait: every applied Pod Ready, every applied Deployment rolled out (all replicas
    updated and available); what is not once `timeout` has passed."""
    from kubeplay.services import pods as pod_services

    deadline = time.monotonic() + timeout
    wanted = [(o.namespace, o.kind, o.name) for o in objects if o.kind in ("Pod", *WORKLOAD_KINDS)]
    while True:
        missing: list[str] = []
        host = host_mod.open_host(settings)
        try:
            names: list[tuple[str, str]] = []
            for ns, kind, name in wanted:
                if kind == "Pod":
                    names.append((ns, name))
                    continue
                rec = host.store.get_record("apps", kind, ns, name)
                if rec is None or not rolled_out(rec):  # its rollout: done, or named
                    missing.append(f"{kind.lower()}.apps/{name}")
        finally:
            host.close()
        for ns, name in names:
            try:
                view = pod_services.get_pod(settings, ns, name)
            except NotFoundError:
                missing.append(f"pod/{name}")
                continue
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in view.status.get("conditions", ())
            )
            if not ready:
                missing.append(f"pod/{name}")
        if not missing or time.monotonic() >= deadline:
            return missing
        time.sleep(0.2)


def _wait_complete(
    settings: Settings, jobs: Sequence[tuple[str, str]], timeout: float
) -> list[str]:
    """--wait for Jobs: each Complete; the ones that are not once `timeout` has passed (a
    Failed one is not waited for further)."""
    from kubeplay.services import jobs as jobs_svc

    deadline = time.monotonic() + timeout
    while True:
        left = jobs_svc.not_complete(settings, jobs)
        if not left or time.monotonic() >= deadline or jobs_svc.all_failed(settings, jobs, left):
            return left
        time.sleep(0.2)


# --- diff -------------------------------------------------------------------------------------


def diff(
    settings: Settings, paths: Sequence[str], *, recursive: bool = False, prune: bool = False
) -> DiffReport:
    """What `apply` of `paths` would change, as `diff -u` of the live and the merged object
    (YAML, Secrets' data masked); no lock is taken and nothing is written."""
    from kubeplay.engine import apply as engine_apply

    objects, warnings = load(settings, paths, recursive=recursive)
    source = applyset(paths)
    keys = _keys(objects)
    host = host_mod.open_host(settings)
    try:
        records = engine_apply.stored_for(host.store, keys, source=source if prune else None)
    finally:
        host.close()
    actions = plan_apply.compute_apply(
        objects,
        [engine_apply.applied_record(r) for r in records],
        source=source,
        mode=ApplyMode.APPLY,
        prune=prune,
    )
    notes = list(shown_warnings(actions, warnings))
    chunks: list[str] = []
    for e in actions.entries():
        if e.reason is plan_apply.Reason.UNCHANGED:
            continue
        if e.reason in (plan_apply.Reason.OWNED_BY_OTHER_SOURCE, plan_apply.Reason.EXISTS):
            notes.append(e.message)
            continue
        before = dict(e.before) if e.before else None
        after = None if e in actions.prune else _shown(e)
        chunks.append(render_diff(e.key, before, after))
    text = "".join(chunks)
    return DiffReport(text=text, changed=bool(text), warnings=tuple(notes))


def _shown(e: ApplyEntry) -> dict[str, Any]:
    """The merged object as it would be stored (server-set metadata as the live one's)."""
    body = dict(e.body)
    if e.before:
        meta = dict(body.get("metadata") or {})
        old_meta = e.before.get("metadata") or {}
        for name in ("uid", "creationTimestamp", "generation", "namespace"):
            if name in old_meta:
                meta[name] = old_meta[name]
        if e.spec_changed and isinstance(meta.get("generation"), int):
            meta["generation"] += 1
        body["metadata"] = meta
    return body


def _diff_name(key: ObjectKey, body: Mapping[str, Any] | None) -> str:
    version = kinds.version_of(str((body or {}).get("apiVersion", "v1")))
    group = key.group or ""
    head = f"{group}.{version}" if group else version
    return f"{head}.{key.kind}.{key.namespace}.{key.name}"


def render_diff(key: ObjectKey, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """`diff -u -N` of LIVE/<group>.<version>.<Kind>.<ns>.<name> against MERGED/..."""
    if key.kind == "Secret" and not key.group:
        old_masked, new_masked = plan_apply.masked_secrets(before or {}, after or {})
        before = old_masked if before is not None else None
        after = new_masked if after is not None else None
    name = _diff_name(key, after or before)
    old = _yaml(before).splitlines(keepends=True)
    new = _yaml(after).splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=f"LIVE/{name}", tofile=f"MERGED/{name}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _yaml(body: Mapping[str, Any] | None) -> str:
    import yaml

    if body is None:
        return ""
    shown = dict(body)
    meta = shown.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        shown["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return str(yaml.safe_dump(shown, sort_keys=True, default_flow_style=False))
