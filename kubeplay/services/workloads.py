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
from kubeplay.errors import KubeplayError, NotFoundError, UsageError
from kubeplay.kube import kinds, workloads
from kubeplay.settings import Settings
from kubeplay.state.store import WorkloadRecord

if TYPE_CHECKING:
    from kubeplay.kube.kinds import KindInfo
    from kubeplay.state.store import ObjectRecord

SCALABLE = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})


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
    # plan.sources imports the manifest loader (YAML) and the apply planner: only here
    from kubeplay.plan import sources as plan_sources

    last = rec.last_applied or {}
    out: list[str] = []
    for path in paths:
        value: Any = last
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and rec.source:
            ref = kinds.ref(kinds.ObjectKey(rec.api_group, rec.kind, rec.namespace, rec.name))
            where = f" (file {rec.origin.split('#')[0]})" if rec.origin else ""
            field = path.rsplit(".", 1)[-1]
            if rec.source.startswith(plan_sources.SOURCE_PREFIX):
                # a watched source (`kubeplay watch`), as `delete` of its objects warns
                source = rec.source.removeprefix(plan_sources.SOURCE_PREFIX)
                out.append(
                    f"{ref} is managed by source {source}: its {field} is set there{where} "
                    "and the source will revert it (change the source, or unwatch it)"
                )
                continue
            out.append(
                f"{ref} {field} is set by source {rec.source}{where}; "
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
        reconcile.reconcile(host, [LoopKey(*k) for k in keys])  # statuses with the pods up
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


# --- rollout ------------------------------------------------------------------------------

ROLLOUT_KINDS = frozenset({"Deployment"})
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True, slots=True)
class RolloutState:
    """What `rollout status` prints once, and whether the rollout is over (done) or has
    failed (its error message)."""

    message: str
    done: bool = False
    error: str = ""


def _deployment(settings: Settings, namespace: str, name: str) -> ObjectRecord:
    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_record("apps", "Deployment", namespace, name)
    finally:
        host.close()
    if rec is None:
        raise NotFoundError(f'deployments.apps "{name}" not found')
    return rec


def rollout_state(settings: Settings, namespace: str, name: str) -> RolloutState:
    """kubectl's DeploymentStatusViewer.Status."""
    rec = _deployment(settings, namespace, name)
    status = rec.body.get("status") or {}
    spec = rec.body.get("spec") or {}
    if rec.generation > int(status.get("observedGeneration") or 0):
        return RolloutState("Waiting for deployment spec update to be observed...")
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return RolloutState("", error=f'deployment "{name}" exceeded its progress deadline')
    wanted = 1 if spec.get("replicas") is None else int(spec["replicas"])
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    head = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < wanted:
        return RolloutState(f"{head}{updated} out of {wanted} new replicas have been updated...")
    if replicas > updated:
        return RolloutState(f"{head}{replicas - updated} old replicas are pending termination...")
    if available < updated:
        return RolloutState(f"{head}{available} of {updated} updated replicas are available...")
    return RolloutState(f'deployment "{name}" successfully rolled out', done=True)


def _replicasets(settings: Settings, rec: ObjectRecord) -> list[ObjectRecord]:
    host = host_mod.open_host(settings)
    try:
        return host.store.list_records(["ReplicaSet"], rec.namespace, owner_uid=rec.uid)
    finally:
        host.close()


def _revisions(rss: Sequence[ObjectRecord]) -> dict[int, ObjectRecord]:
    """Revision number -> its ReplicaSet (each ReplicaSet under its current revision, as
    kubectl lists them: a rolled-back-to revision shows under its new number)."""
    from kubeplay.plan import deployment as plan_dep

    out: dict[int, ObjectRecord] = {}
    for rs in rss:
        notes = (rs.body.get("metadata") or {}).get("annotations") or {}
        text = str(notes.get(plan_dep.REVISION, ""))
        if text.isdigit():
            out[int(text)] = rs
    return out


def rollout_history(
    settings: Settings, namespace: str, name: str, *, revision: int = 0
) -> list[str]:
    """kubectl's `rollout history`: REVISION and CHANGE-CAUSE of each revision kept."""
    from kubeplay.plan import deployment as plan_dep

    rec = _deployment(settings, namespace, name)
    revisions = _revisions(_replicasets(settings, rec))
    if revision:
        rs = revisions.get(revision)
        if rs is None:
            raise NotFoundError(f"unable to find the specified revision {revision}")
        import yaml

        template = copy.deepcopy((rs.body.get("spec") or {}).get("template") or {})
        lines = [f"deployment.apps/{name} with revision #{revision}", "Pod Template:"]
        text = yaml.safe_dump(template, sort_keys=False, default_flow_style=False)
        lines += ["  " + line for line in text.splitlines()]
        return lines
    rows = []
    for number in sorted(revisions):
        notes = (revisions[number].body.get("metadata") or {}).get("annotations") or {}
        rows.append((str(number), str(notes.get(plan_dep.CHANGE_CAUSE) or "<none>")))
    width = max([len("REVISION"), *(len(r) for r, _ in rows)]) + 2
    return [
        f"deployment.apps/{name} ",
        f"{'REVISION'.ljust(width)}CHANGE-CAUSE",
        *(f"{r.ljust(width)}{cause}" for r, cause in rows),
    ]


def rollout_undo(
    settings: Settings, namespace: str, name: str, *, to_revision: int = 0
) -> WorkloadReport:
    """kubectl's `rollout undo`: the chosen revision's template (minus pod-template-hash)
    copied into the Deployment, which then rolls to it."""
    from kubeplay.plan import deployment as plan_dep

    rec = _deployment(settings, namespace, name)
    revisions = _revisions(_replicasets(settings, rec))
    if not revisions:
        raise NotFoundError(f'no rollout history found for deployment "{name}"')
    if to_revision:
        target = revisions.get(to_revision)
        if target is None:
            raise NotFoundError(f"unable to find specified revision {to_revision} in history")
    else:
        ordered = sorted(revisions)
        if len(ordered) < 2:
            raise NotFoundError(f'no rollout history found for deployment "{name}"')
        current = ordered[-1]
        previous = [n for n in ordered if revisions[n] is not revisions[current]]
        if not previous:
            raise NotFoundError(f'no rollout history found for deployment "{name}"')
        to_revision = previous[-1]
        target = revisions[to_revision]
    template = copy.deepcopy((target.body.get("spec") or {}).get("template") or {})
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop(workloads.TEMPLATE_HASH_LABEL, None)
    template.setdefault("metadata", {})["labels"] = labels
    if (rec.body.get("spec") or {}).get("template") == template:
        return WorkloadReport(
            lines=(
                f"deployment.apps/{name} skipped rollback "
                f"(current template already matches revision {to_revision})",
            )
        )
    cause = ((target.body.get("metadata") or {}).get("annotations") or {}).get(
        plan_dep.CHANGE_CAUSE
    )

    def roll_back(body: dict[str, Any]) -> list[str]:
        body.setdefault("spec", {})["template"] = template
        if cause:
            body.setdefault("metadata", {}).setdefault("annotations", {})[plan_dep.CHANGE_CAUSE] = (
                cause
            )
        return ["spec.template"]

    return _rollout_change(settings, namespace, name, roll_back, "rolled back")


def _rollout_change(
    settings: Settings,
    namespace: str,
    name: str,
    change: Callable[[dict[str, Any]], list[str]],
    verb: str,
) -> WorkloadReport:
    from kubeplay.services import resources

    info = resources.resolve(settings, "deployment")
    rec, fields, did = update(settings, info, namespace, name, change)
    warnings = source_warnings(rec, fields) if did else []
    if did:
        warnings += run_controllers(settings, [("Deployment", namespace, name)])
    return WorkloadReport(lines=(f"deployment.apps/{name} {verb}",), warnings=tuple(warnings))


def rollout_restart(settings: Settings, namespace: str, name: str, *, now: float) -> WorkloadReport:
    """kubectl's `rollout restart`: the template's restartedAt annotation set to now."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))

    def restart(body: dict[str, Any]) -> list[str]:
        spec = body.setdefault("spec", {})
        if spec.get("paused"):
            raise UsageError(f'deployments.apps "{name}" can\'t restart paused deployment '
                             "(run rollout resume first)")  # fmt: skip
        template = spec.setdefault("template", {})
        meta = template.setdefault("metadata", {})
        meta.setdefault("annotations", {})[RESTARTED_AT] = stamp
        return []

    return _rollout_change(settings, namespace, name, restart, "restarted")


def rollout_pause(settings: Settings, namespace: str, name: str, *, paused: bool) -> WorkloadReport:
    """kubectl's `rollout pause|resume`: spec.paused set (an error when it already is)."""
    rec = _deployment(settings, namespace, name)
    if bool((rec.body.get("spec") or {}).get("paused")) == paused:
        state = "already paused" if paused else "not paused"
        raise KubeplayError(f'deployments.apps "{name}" is {state}')

    def set_paused(body: dict[str, Any]) -> list[str]:
        spec = body.setdefault("spec", {})
        if paused:
            spec["paused"] = True
        else:
            spec.pop("paused", None)
        return ["spec.paused"]

    return _rollout_change(settings, namespace, name, set_paused, "paused" if paused else "resumed")
