"""get and delete of stored objects of every kind: `get KIND [NAME...]`, `get all`,
`delete KIND NAME...` and `delete -f PATH...`.

Kinds are resolved as kubectl's RESTMapper does (`kube.kinds.resolve`: plural, singular, short
name, `kind.group`), including the kinds of stored CustomResourceDefinitions. Objects come from
the one `objects` table; what has a runtime is removed through it: a Pod by the pod teardown
(`services.play.delete`), a Deployment with its pods, a ConfigMap/Secret with its mounted
volumes refreshed. `delete -f` is `compute_apply(mode=DOWN)` through `services.apply.run`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeplay.engine import host as host_mod
from kubeplay.errors import NotFoundError
from kubeplay.kube import kinds, selectors
from kubeplay.kube.kinds import KindInfo
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.state.store import ObjectRecord


@dataclass(frozen=True, slots=True)
class DeleteReport:
    lines: tuple[str, ...]
    missing: tuple[str, ...] = ()
    pods_changed: bool = False


def _custom(host: host_mod.Host) -> list[KindInfo]:
    crds = host.store.list_records(["CustomResourceDefinition"])
    return [kinds.from_crd(r.body) for r in crds]


def resolve(settings: Settings, text: str) -> KindInfo:
    """The kind `text` names; stored CRDs' kinds are looked up only when needed."""
    from kubeplay.errors import UsageError

    try:
        return kinds.resolve(text).info
    except UsageError:
        host = host_mod.open_host(settings)
        try:
            return kinds.resolve(text, extra=_custom(host)).info
        finally:
            host.close()


def resolve_list(settings: Settings, text: str) -> list[KindInfo]:
    """`get pods,sa,all`: the kinds of a comma-separated list (`all` is kubectl's category),
    each once, in the order given."""
    from kubeplay.errors import UsageError

    try:
        found = kinds.resolve_all(text)
    except UsageError:
        host = host_mod.open_host(settings)
        try:
            found = kinds.resolve_all(text, extra=_custom(host))
        finally:
            host.close()
    return list({(r.info.group, r.info.kind): r.info for r in found}.values())


def to_kube(rec: ObjectRecord) -> dict[str, Any]:
    """The object as the API server returns it: metadata with namespace, uid, creation;
    never the last-applied manifest."""
    from kubeplay.plan import status

    body = dict(rec.body)
    meta = dict(body.get("metadata") or {})
    if rec.namespace:
        meta["namespace"] = rec.namespace
    meta["uid"] = rec.uid
    meta.setdefault("creationTimestamp", status.rfc3339(rec.created_at))
    body["metadata"] = meta
    return body


def labels_of(rec: ObjectRecord) -> dict[str, str]:
    return dict((rec.body.get("metadata") or {}).get("labels") or {})


def get(
    settings: Settings,
    info: KindInfo,
    *,
    namespace: str | None,
    names: Sequence[str] = (),
    selector: str = "",
) -> list[ObjectRecord]:
    """Stored objects of `info`'s kind (in `namespace`, None: all); named ones must exist."""
    wanted = selectors.parse(selector)
    ns = namespace if info.namespaced else ""
    host = host_mod.open_host(settings)
    try:
        derived = (
            derived_endpoints(host, ns if names else namespace)
            if (info.group, info.kind) == ("", "Endpoints")
            else {}
        )
        if names:
            found: list[ObjectRecord] = []
            for name in names:
                rec = derived.get((ns or "default", name)) or host.store.get_record(
                    info.group, info.kind, ns or "default", name
                )
                if not info.namespaced:
                    rec = host.store.get_record(info.group, info.kind, "", name)
                if rec is None:
                    raise NotFoundError(f'{info.resource} "{name}" not found')
                found.append(rec)
        else:
            found = [
                r
                for r in host.store.list_records([info.kind], ns if info.namespaced else None)
                if r.api_group == info.group and (r.namespace, r.name) not in derived
            ]
            if derived:
                found = sorted([*found, *derived.values()], key=lambda r: (r.namespace, r.name))
    finally:
        host.close()
    return [r for r in found if selectors.matches(wanted, labels_of(r))]


def derived_endpoints(
    host: host_mod.Host, namespace: str | None
) -> dict[tuple[str, str], ObjectRecord]:
    """The v1 Endpoints of the selector Services in `namespace` (None: every one), derived
    from their EndpointSlices (`plan.endpoints`), by (namespace, name). They are not stored:
    the uid is derived from the Service's, the creation time is the Service's."""
    import uuid

    from kubeplay.plan import endpoints as endpoints_plan
    from kubeplay.state.store import ObjectRecord

    slices: dict[str, list[ObjectRecord]] = {}
    for r in host.store.list_records(["EndpointSlice"], namespace):
        if r.api_group == "discovery.k8s.io" and r.owner_uid:
            slices.setdefault(r.owner_uid, []).append(r)
    out: dict[tuple[str, str], ObjectRecord] = {}
    for svc in host.store.list_records(["Service"], namespace):
        mine = slices.get(svc.uid, [])
        body = endpoints_plan.derive_endpoints(to_kube(svc), [r.body for r in mine])
        if svc.api_group or body is None:
            continue
        uid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{svc.uid}/endpoints"))
        out[svc.namespace, svc.name] = ObjectRecord(
            uid=uid,
            api_group="",
            kind="Endpoints",
            namespace=svc.namespace,
            name=svc.name,
            body=body,
            owner_uid=svc.uid,
            created_at=svc.created_at,
            updated_at=max([svc.updated_at, *(r.updated_at for r in mine)]),
        )
    return out


def watch(
    settings: Settings,
    info: KindInfo,
    *,
    namespace: str | None,
    selector: str = "",
    interval: float = 0.5,
) -> Iterator[ObjectRecord]:
    """After the list: every object of the kind that is added, changed or deleted, as it
    happens (a deleted one as it was last seen, as kubectl's watch prints a DELETED event)."""
    seen = {r.uid: r for r in get(settings, info, namespace=namespace, selector=selector)}
    while True:
        time.sleep(interval)
        now = {r.uid: r for r in get(settings, info, namespace=namespace, selector=selector)}
        for uid, rec in now.items():
            was = seen.get(uid)
            # changed: written again with another body (a derived Endpoints is "written"
            # whenever its slices are, often with the same addresses)
            if was is None or (was.updated_at != rec.updated_at and was.body != rec.body):
                yield rec
        for uid, rec in seen.items():
            if uid not in now:
                yield rec
        seen = now


def delete(
    settings: Settings,
    info: KindInfo,
    namespace: str,
    names: Sequence[str],
    *,
    grace: float | None = None,
    cascade: str = "background",
) -> DeleteReport:
    """`delete KIND NAME...` for a kind other than Pod, ConfigMap and Secret (those keep
    their own paths); a Deployment goes with its pods, or with `cascade` orphan alone. With
    `cascade` background (kubectl's default) the owner is gone when this returns and its pods
    terminate afterwards (the supervisor stops them); foreground waits for them."""
    from kubeplay.errors import UsageError
    from kubeplay.kube.objects import KubeObject
    from kubeplay.plan.apply import ApplyMode
    from kubeplay.services import apply as apply_svc

    if cascade == "orphan" and info.kind in ORPHANING_KINDS:
        deleted = _orphan_delete(settings, [(info, namespace, n) for n in names])
        missing = [n for n in names if (info.kind, n) not in deleted]
        if missing:
            raise NotFoundError(f'{info.resource} "{", ".join(missing)}" not found')
        return DeleteReport(lines=tuple(f'{info.prefix} "{n}" deleted' for n in names))
    if (info.group, info.kind) == ("", "Endpoints"):
        host = host_mod.open_host(settings)
        try:
            derived = derived_endpoints(host, namespace)
        finally:
            host.close()
        for name in names:
            if (namespace, name) in derived:
                raise UsageError(
                    f'endpoints "{name}": kept for service {namespace}/{name} from its '
                    "EndpointSlices (a cluster's endpoints controller makes it again at once): "
                    "delete the Service"
                )
    objects = [
        KubeObject(
            body={
                "apiVersion": info.api_version,
                "kind": info.kind,
                "metadata": {"name": n, **({"namespace": namespace} if info.namespaced else {})},
            },
            source="<command line>",
        )
        for n in names
    ]
    report = apply_svc.run(
        settings, objects, source="", mode=ApplyMode.DOWN, background=cascade == "background"
    )
    gone = {line.split(" ", 1)[0].rsplit("/", 1)[1] for line in report.lines}
    missing = [n for n in names if n not in gone]
    lines = tuple(f'{info.prefix} "{n}" deleted' for n in names if n in gone)
    if missing:
        raise NotFoundError(
            f'{info.resource} "{", ".join(missing)}" not found'
            + (f" (deleted: {', '.join(gone)})" if gone else "")
        )
    return DeleteReport(lines=lines, pods_changed=report.pods_changed)


# Kinds whose dependents `--cascade=orphan` keeps (the others are deleted as usual).
ORPHANING_KINDS = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}
)


def _orphan_delete(
    settings: Settings, wanted: Sequence[tuple[KindInfo, str, str]]
) -> set[tuple[str, str]]:
    """`--cascade=orphan`: each (kind, namespace, name) deleted alone, its dependents kept
    without their ownerReference to it (engine.cascade); the (kind, name) deleted."""
    from kubeplay.engine import apply as engine_apply
    from kubeplay.engine import cascade
    from kubeplay.engine.locks import key_locks

    gone: set[tuple[str, str]] = set()
    host = host_mod.open_host(settings)
    try:
        for info, namespace, name in wanted:
            rec = host.store.get_record(info.group, info.kind, namespace, name)
            if rec is None:
                continue
            records, pods = cascade.dependents(host, rec)
            keys = [
                engine_apply.key_of_record(rec),
                *(engine_apply.key_of_record(r) for r in records),
                *(kinds.ObjectKey("", "Pod", p.namespace, p.name) for p in pods),
            ]
            with key_locks(settings.locks_dir, keys):
                rec = host.store.get_record(info.group, info.kind, namespace, name)
                if rec is not None:
                    cascade.orphan(host, rec, now=time.time())
                    gone.add((info.kind, name))
    finally:
        host.close()
    return gone


def _as_deleted(line: str) -> str:
    """`deployment.apps/web deleted` as kubectl delete prints it: `deployment.apps "web"
    deleted`."""
    ref, _, verb = line.partition(" ")
    prefix, slash, name = ref.partition("/")
    return f'{prefix} "{name}" {verb}' if slash and verb else line


def delete_files(
    settings: Settings,
    paths: Sequence[str],
    *,
    recursive: bool = False,
    cascade: str = "background",
) -> DeleteReport:
    """`delete -f PATH...`: every object the files define that is stored (any source);
    with `cascade` orphan, workloads go alone (their dependents kept)."""
    from kubeplay.kube import loader
    from kubeplay.plan import apply as plan_apply
    from kubeplay.plan.apply import ApplyMode
    from kubeplay.services import apply as apply_svc

    objects = loader.load(apply_svc.expand_paths(paths, recursive=recursive))
    extra = plan_apply.custom_kinds(objects, ())
    orphaned: list[str] = []
    if cascade == "orphan":
        alone = [o for o in objects if o.kind in ORPHANING_KINDS]
        infos = [
            (kinds.lookup(kinds.group_of(o.api_version), o.kind, extra=extra), o) for o in alone
        ]
        gone_alone = _orphan_delete(
            settings, [(i, o.namespace, o.name) for i, o in infos if i is not None]
        )
        orphaned = [
            f"{kinds.ref(plan_apply.key_of(o, extra=extra))} deleted"
            for o in alone
            if (o.kind, o.name) in gone_alone
        ]
        objects = [
            o
            for o in objects
            if o.kind not in ORPHANING_KINDS or (o.kind, o.name) not in gone_alone
        ]
    report = apply_svc.run(
        settings, objects, source="", mode=ApplyMode.DOWN, background=cascade == "background"
    )
    report_lines = (*orphaned, *report.lines)
    gone = {line.split(" ", 1)[0] for line in report_lines}
    missing: list[str] = []
    for obj in objects:
        ref = kinds.ref(plan_apply.key_of(obj, extra=extra))
        if ref not in gone:
            info = kinds.lookup(kinds.group_of(obj.api_version), obj.kind, extra=extra)
            resource = info.resource if info is not None else obj.kind.lower()
            missing.append(f'error when deleting "{obj.source}": {resource} "{obj.name}" not found')
    return DeleteReport(
        lines=tuple(_as_deleted(line) for line in report_lines),
        missing=tuple(dict.fromkeys(missing)),
        pods_changed=report.pods_changed,
    )


@dataclass(frozen=True, slots=True)
class SetView:
    """A Deployment, ReplicaSet, StatefulSet or DaemonSet for `describe`: the object, its
    pods' phases, the ReplicaSets it owns (a Deployment's) and its events."""

    body: dict[str, Any]
    phases: tuple[str, ...]  # of its pods
    events: tuple[Any, ...]  # EventView, oldest first
    replicasets: tuple[dict[str, Any], ...] = ()


def describe_set(settings: Settings, info: KindInfo, namespace: str, name: str) -> SetView:
    """`describe deployment|replicaset|statefulset|daemonset NAME`: the stored object with
    the status its controller wrote, its pods' phases, its ReplicaSets and its events."""
    from kubeplay.engine import ownedpods
    from kubeplay.services import events, pods

    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_record(info.group, info.kind, namespace, name)
        if rec is None:
            raise NotFoundError(f'{info.resource}.{info.group} "{name}" not found')
        mine = {p.uid for p in ownedpods.owned(host.store, rec.uid, namespace)}
        replicasets = tuple(
            to_kube(r)
            for r in host.store.list_records(["ReplicaSet"], namespace, owner_uid=rec.uid)
        )
    finally:
        host.close()
    views = pods.get_pods(settings, namespace=namespace)
    phases = tuple(str(v.status.get("phase", "")) for v in views if v.record.uid in mine)
    found = tuple(
        e for e in events.list_events(settings, namespace=namespace) if e.event.uid == rec.uid
    )
    return SetView(body=to_kube(rec), phases=phases, events=found, replicasets=replicasets)


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A Service for `describe svc`: as `get -o yaml` shows it, its EndpointSlices
    (kubeplay's for a selector Service, the user's for one without), why a port has no
    endpoints (by port name and protocol), and its uid (for its events)."""

    body: dict[str, Any]
    slices: list[dict[str, Any]]
    no_endpoints: dict[tuple[str, str], str]
    uid: str


def describe_service(settings: Settings, namespace: str, name: str) -> ServiceView:
    from kubeplay.engine import network
    from kubeplay.plan import endpoints as endpoints_plan
    from kubeplay.plan import pods as plans
    from kubeplay.plan import services as services_plan

    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_record("", "Service", namespace, name)
        if rec is None:
            raise NotFoundError(f'services "{name}" not found in namespace "{namespace}"')
        slices = [
            r.body
            for r in host.store.list_records(["EndpointSlice"], namespace)
            if r.api_group == "discovery.k8s.io"
            and ((r.body.get("metadata") or {}).get("labels") or {}).get(
                services_plan.SERVICE_NAME_LABEL
            )
            == name
        ]
        pods = [
            network.pod_info(host, p, plans.from_json(p.plan_json))
            for p in host.store.list_pods()
            if p.namespace == namespace and p.pod_ip
        ]
        why = endpoints_plan.explain_no_endpoints(services_plan.service_spec(rec.body), pods)
        return ServiceView(body=to_kube(rec), slices=slices, no_endpoints=why, uid=rec.uid)
    finally:
        host.close()
