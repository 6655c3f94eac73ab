"""The apply step: write what `plan.apply.compute_apply` decided to the store, in one transaction.

`stored_for` reads the records the decision needs (the desired keys and the source's
inventory) as `AppliedRecord`s. `write` carries out `ApplyActions` on the `objects` table in
ONE store transaction: created rows get their uid, creationTimestamp and generation 1; updated
rows keep uid and creation, bump generation on a spec change and keep the manifest as last
applied; unchanged rows another source stored are taken over (source, origin and last
applied only); forced recreations get a new uid; pruned rows that have no runtime are deleted (a
claim's data is kept: the volume is the volumes table's). A Pod's runtime rows (`pods`) and a
Deployment's replica pods are written in the same transaction from the records the caller
compiled. Tearing pods down, starting them and restarting containers is the caller's (the
commands run it for the keys they touched). `rollback` undoes a write: it deletes the rows the
write created and restores the bodies it replaced, as a failed `play` must. No runtime calls.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kubeplay.errors import ManifestError
from kubeplay.kube.kinds import ObjectKey
from kubeplay.plan import services as service_plan
from kubeplay.plan.apply import AppliedRecord, ApplyActions, ApplyEntry, Effect, Reason
from kubeplay.state.store import ObjectRecord, PodRecord, Store


@dataclass(frozen=True, slots=True)
class Written:
    """What one `write` did, for `rollback` and for the caller's runtime work."""

    uids: Mapping[ObjectKey, str] = field(default_factory=dict)  # every key written -> uid
    created: tuple[str, ...] = ()  # uids of rows this write created
    before: tuple[ObjectRecord, ...] = ()  # rows as they were before this write changed them
    removed: tuple[ObjectRecord, ...] = ()  # rows this write deleted


def key_of_record(rec: ObjectRecord) -> ObjectKey:
    return ObjectKey(rec.api_group, rec.kind, rec.namespace, rec.name)


def applied_record(rec: ObjectRecord) -> AppliedRecord:
    return AppliedRecord(
        key=key_of_record(rec),
        uid=rec.uid,
        source=rec.source,
        last_applied=rec.last_applied or {},
        last_applied_sha256=rec.last_applied_sha256,
        live=rec.body,
        owner_uid=rec.owner_uid,
        origin=rec.origin,
    )


def stored_for(
    store: Store, keys: Iterable[ObjectKey], *, source: str | None = None
) -> list[ObjectRecord]:
    """The stored records of `keys`, and with `source` every record of it (its inventory)."""
    found: dict[str, ObjectRecord] = {}
    for key in dict.fromkeys(keys):
        rec = store.get_record(*key)
        if rec is not None:
            found[rec.uid] = rec
    for rec in store.list_records(source=source) if source is not None else ():
        found.setdefault(rec.uid, rec)
    return list(found.values())


def timestamp(now: float) -> str:
    """RFC 3339 in UTC, as metadata.creationTimestamp is written."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def live_body(entry: ApplyEntry, *, uid: str, created_at: float, generation: int) -> dict[str, Any]:
    """The stored body: the entry's (defaulted, merged) body with what the server sets."""
    body = dict(entry.body)
    meta = dict(body.get("metadata") or {})
    if entry.key.namespace:
        meta["namespace"] = entry.key.namespace
    meta["uid"] = uid
    meta["creationTimestamp"] = timestamp(created_at)
    meta["generation"] = generation
    body["metadata"] = meta
    return body


def _owner_uid(body: Mapping[str, Any]) -> str:
    for ref in (body.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


def _record(
    entry: ApplyEntry,
    *,
    uid: str,
    source: str,
    generation: int,
    created_at: float,
    now: float,
) -> ObjectRecord:
    body = live_body(entry, uid=uid, created_at=created_at, generation=generation)
    return ObjectRecord(
        uid=uid,
        api_group=entry.key.group,
        kind=entry.key.kind,
        namespace=entry.key.namespace,
        name=entry.key.name,
        body=body,
        source=source,
        origin=entry.origin,
        last_applied=dict(entry.last_applied),
        last_applied_sha256=entry.last_applied_sha256,
        generation=generation,
        owner_uid=_owner_uid(body),
        created_at=created_at,
        updated_at=now,
    )


def _is_service(key: ObjectKey) -> bool:
    return key.kind == "Service" and not key.group


def service_allocations(store: Store, *, exclude: Iterable[str] = ()) -> tuple[set[str], set[int]]:
    """The cluster IPs and nodePorts the stored Services hold (but those of `exclude` uids)."""
    skip = set(exclude)
    ips: set[str] = set()
    ports: set[int] = set()
    for rec in store.list_records(["Service"]):
        if rec.uid in skip or rec.api_group:
            continue
        spec = rec.body.get("spec") or {}
        ips.add(str(spec.get("clusterIP") or ""))
        ports.update(int(p["nodePort"]) for p in spec.get("ports") or () if p.get("nodePort"))
    return ips, ports


def allocate_services(
    store: Store, entries: Sequence[ApplyEntry], *, cidr: str, seed: int | None = None
) -> list[ApplyEntry]:
    """`entries` with every Service's clusterIP and nodePorts allocated (`plan.services`),
    against the Services stored now and those allocated before it in `entries`; a
    LoadBalancer gets 127.0.0.1 as its ingress IP (it is served as a NodePort). Raises
    ManifestError for a clusterIP or nodePort out of range or taken: run it in the
    transaction that writes them."""
    import random

    wanted = [e for e in entries if _is_service(e.key)]
    if not wanted:
        return list(entries)
    used, node_ports = service_allocations(store, exclude={e.uid for e in wanted if e.uid})
    out = []
    for entry in entries:
        if not _is_service(entry.key):
            out.append(entry)
            continue
        body = dict(entry.body)
        spec = dict(body.get("spec") or {})
        body["spec"] = spec
        try:
            ip = service_plan.allocate_cluster_ip(body, cidr=cidr, used=used)
            picked = service_plan.allocate_node_ports(
                body,
                used=node_ports,
                seed=random.randrange(1 << 30) if seed is None else seed,
            )
        except ManifestError as err:
            raise ManifestError(
                err.message,
                source=entry.origin,
                kind="Service",
                name=entry.key.name,
                path=err.path,
            ) from err
        if ip:
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            used.add(ip)
        if picked:
            spec["ports"] = [
                {**p, "nodePort": n} if n else dict(p)
                for p, n in zip(spec.get("ports") or (), picked, strict=False)
            ]
            node_ports.update(n for n in picked if n)
        if spec.get("type") == "LoadBalancer":
            body["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}}
        out.append(replace(entry, body=body))
    return out


# Kinds whose rows go with a runtime the caller removes (teardown deletes the rows).
RUNTIME_KINDS = frozenset({"Pod", "Deployment", "ReplicaSet"})


def write(
    store: Store,
    actions: ApplyActions,
    *,
    source: str,
    now: float,
    uids: Mapping[ObjectKey, str] | None = None,
    pods: Mapping[ObjectKey, PodRecord] | None = None,
    replicas: Mapping[ObjectKey, Sequence[PodRecord]] | None = None,
    pod_plans: Mapping[str, str] | None = None,
    guard: Callable[[list[PodRecord]], None] | None = None,
    service_cidr: str = service_plan.DEFAULT_SERVICE_CIDR,
) -> Written:
    """Write `actions` in one transaction. `uids`: the uid to give a created (or recreated)
    object (else a new one); `pods`: the runtime record of each Pod created; `replicas`: the
    pods of each Deployment created or rolled out; `pod_plans`: a Pod updated in place, by
    uid -> its new plan JSON. Pruned Pods and Deployments are the caller's to tear down.
    `guard` is called first, in the transaction, with the pods stored then; what it raises
    writes nothing (two commands claiming one hostPort at once: exactly one wins). Services
    get their clusterIP from `service_cidr` in the same transaction."""
    given = uids or {}
    pods = pods or {}
    replicas = replicas or {}
    pod_plans = pod_plans or {}
    written: dict[ObjectKey, str] = {}
    created: list[str] = []
    before: list[ObjectRecord] = []
    removed: list[ObjectRecord] = []
    with store.batch():
        if guard is not None:
            guard(store.list_pods())
        allocated = allocate_services(store, [*actions.update, *actions.create], cidr=service_cidr)
        updates, creates = allocated[: len(actions.update)], allocated[len(actions.update) :]
        for entry in updates:
            old = store.get_record_by_uid(entry.uid)
            if entry.effect is Effect.RECREATE or entry.reason is Reason.RECREATE:
                if old is not None:  # a Pod's went with its teardown, before this write
                    store.delete_records([old.uid])
                    removed.append(old)
                _create(store, entry, given, pods, replicas, source, now, written, created)
                continue
            if old is None:
                continue
            generation = old.generation + (1 if entry.spec_changed else 0)
            rec = _record(
                entry,
                uid=old.uid,
                source=source,
                generation=generation,
                created_at=old.created_at,
                now=now,
            )
            store.put_records([rec])
            before.append(old)
            written[entry.key] = old.uid
            if entry.key.kind == "Pod" and not entry.key.group:
                pod = store.get_pod_by_uid(old.uid)
                if pod is not None:
                    store.set_pod_spec(
                        old.uid,
                        manifest=dict(entry.last_applied),
                        plan_json=pod_plans.get(old.uid, pod.plan_json),
                    )
            if entry.key in replicas:  # a rolled-out Deployment's new pods
                store.add_pods(replicas[entry.key])
        for entry in creates:
            _create(store, entry, given, pods, replicas, source, now, written, created)
        for entry in actions.prune:
            old = store.get_record_by_uid(entry.uid)
            if old is None or old.kind in RUNTIME_KINDS:
                continue
            store.delete_records([old.uid])
            removed.append(old)
        for entry in actions.unchanged:
            written[entry.key] = entry.uid
            old = store.get_record_by_uid(entry.uid) if entry.taken_from else None
            if old is not None:  # taken over from another apply or play: only its source
                store.put_records([_taken_over(old, entry, source=source, now=now)])
                before.append(old)
    return Written(
        uids=written, created=tuple(created), before=tuple(before), removed=tuple(removed)
    )


def _taken_over(old: ObjectRecord, entry: ApplyEntry, *, source: str, now: float) -> ObjectRecord:
    """An unchanged object another source stored, now this one's (the manifest as applied)."""
    return replace(
        old,
        source=source,
        origin=entry.origin or old.origin,
        last_applied=dict(entry.last_applied),
        last_applied_sha256=entry.last_applied_sha256,
        updated_at=now,
    )


def _create(
    store: Store,
    entry: ApplyEntry,
    given: Mapping[ObjectKey, str],
    pods: Mapping[ObjectKey, PodRecord],
    replicas: Mapping[ObjectKey, Sequence[PodRecord]],
    source: str,
    now: float,
    written: dict[ObjectKey, str],
    created: list[str],
) -> None:
    uid = given.get(entry.key) or str(uuid.uuid4())
    store.put_records(
        [_record(entry, uid=uid, source=source, generation=1, created_at=now, now=now)]
    )
    if entry.key in pods:
        store.add_pods([pods[entry.key]])
    if entry.key in replicas:
        store.add_pods(replicas[entry.key])
    written[entry.key] = uid
    created.append(uid)


def rollback(store: Store, written: Written) -> None:
    """Undo a write: delete what it created (pods' rows with them: their runtime is the
    caller's to tear down first), put back what it replaced or removed."""
    with store.batch():
        store.delete_records(written.created)
        store.put_records([*written.before, *written.removed])
