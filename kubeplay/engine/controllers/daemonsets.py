"""The DaemonSet controller: one pod on kubeplay's one node, one sync per set key.

A sync (under the set's key lock) reads the set, its ControllerRevisions and its pods,
decides with `plan.daemonset` whether the node should run the pod (the template's
nodeSelector and required node affinity against the node's labels), stores a new revision
when the template changed, and acts: it deletes pods (`ownedpods.delete`: the pod controller
stops them within their grace period) and makes the pod `<ds>-<random>` at the update
revision (`ownedpods.create`). A rolling update deletes the old pod first (maxSurge 0, the
default) and makes the new one once it is gone, or with maxSurge makes the new one first and
deletes the old one once the new one is available. The status (desired, current, ready,
up-to-date, available) is written when it changed. A set whose row is gone has its pods and
revisions removed.
"""

from __future__ import annotations

import platform
import secrets
import time
from collections.abc import Callable

from kubeplay import log
from kubeplay.engine import cascade, events, ownedpods
from kubeplay.engine.controllers import keylock
from kubeplay.engine.controllers import revisions as revision_store
from kubeplay.engine.controllers.statefulsets import observe_pod
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import KubeplayError, PermanentError
from kubeplay.kube import workloads
from kubeplay.plan import daemonset as ds
from kubeplay.plan import revisions as revisions_mod
from kubeplay.state.store import ObjectRecord, PodRecord

KIND = "DaemonSet"
GROUP = "apps"
NODE = events.NODE
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}

_log = log.get_logger(__name__)


def set_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


def node_labels() -> dict[str, str]:
    """The labels of kubeplay's one node, as the kubelet sets them."""
    machine = platform.machine()
    return {
        "kubernetes.io/hostname": NODE,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": _ARCH.get(machine, machine),
    }


def daemon_pod(host: Host, rec: PodRecord) -> ds.DaemonPod:
    phase, ready, since = observe_pod(host, rec)
    labels = (rec.manifest.get("metadata") or {}).get("labels") or {}
    return ds.DaemonPod(
        name=rec.name,
        revision=str(labels.get(ds.REVISION_LABEL, "")),
        phase=phase,
        ready=ready,
        ready_since=since,
        terminating=rec.lifecycle == "terminating",
        created_at=rec.created_at,
    )


def settled(rec: ObjectRecord) -> bool:
    """Whether the last written status shows the set's pod Ready at the update revision."""
    status = rec.body.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0)
    return (
        status.get("observedGeneration") == rec.generation
        and status.get("currentNumberScheduled", 0) == desired
        and status.get("numberAvailable", 0) == desired
        and status.get("numberMisscheduled", 0) == 0
        and (
            ds.spec_of(rec.body).update_type != ds.ROLLING_UPDATE
            or status.get("updatedNumberScheduled", 0) == desired
        )
    )


def _random_name(base: str, taken: set[str]) -> str:
    """generateName: `<ds>-` and five characters of the apiserver's alphabet."""
    while True:
        suffix = "".join(
            secrets.choice(workloads.ALPHANUMS) for _ in range(workloads.RANDOM_LENGTH)
        )
        name = workloads.generated_name(base, suffix)
        if name not in taken:
            return name


class DaemonSetController:
    kinds = frozenset({KIND})

    def __init__(
        self,
        host: Host,
        *,
        clock: Callable[[], float] = time.time,
        held: frozenset[ObjectKey] = frozenset(),
        wait: bool = True,
    ) -> None:
        self.host = host
        self.clock = clock
        self.held = held  # keys whose lock the calling command holds already
        self.wait = wait  # a command waits for the set's lock; the supervisor looks later
        self.labels = node_labels()

    def keys(self) -> list[ObjectKey]:
        return sorted(set_key(r.namespace, r.name) for r in self.host.store.list_records([KIND]))

    def needed(self) -> bool:
        return not all(settled(r) for r in self.host.store.list_records([KIND]))

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        rec = self.host.store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is not None:
            self._event(rec, "FailedSync", str(err), type=events.WARNING)

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        return keylock.sync_locked(
            self.host,
            key,
            group=GROUP,
            held=self.held,
            wait=self.wait,
            sync=lambda: self._sync_locked(key, now=now),
        )

    def _sync_locked(self, key: ObjectKey, *, now: float) -> SyncResult:
        rec = self.host.store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is None:
            return self._collect(key)
        return self._sync(rec, now=now)

    def _event(self, rec: ObjectRecord, reason: str, message: str, *, type: str = "") -> None:
        events.record_about(self.host, rec, reason=reason, message=message, type=type or "Normal")

    def _sync(self, rec: ObjectRecord, *, now: float) -> SyncResult:
        store = self.host.store
        spec = ds.spec_of(rec.body, uid=rec.uid, generation=rec.generation)
        template = (rec.body.get("spec") or {}).get("template") or {}
        cascade.adopt_records(store, rec, revisions_mod.KIND, ref=ds.owner_reference(spec), now=now)
        stored = store.list_records([revisions_mod.KIND], rec.namespace, owner_uid=rec.uid)
        chosen = revisions_mod.compute_revisions(
            spec.name,
            template,
            [revisions_mod.revision_of(r.body) for r in stored],
            current_name="",
        )
        revision_store.store_revision(
            self.host.store, rec, chosen, stored, owner=ds.owner_reference(spec), now=now
        )
        eligible = ds.node_matches(template.get("spec") or {}, node=NODE, labels=self.labels)
        owned = ownedpods.claim(self.host, rec, api_version="apps/v1")
        by_name = {p.name: p for p in owned}
        pods = [daemon_pod(self.host, p) for p in owned]
        todo = ds.compute_daemonset_actions(spec, pods, chosen.update, eligible=eligible, now=now)
        touched: list[ObjectKey] = []
        for gone in todo.delete:
            pod = by_name.get(gone.name)
            if pod is None:
                continue
            ownedpods.delete(self.host, pod, now=now)
            touched.append(ObjectKey("Pod", pod.namespace, pod.name))
            if gone.reason is ds.DeleteReason.ENDED:
                self._event(
                    rec,
                    "FailedDaemonPod",
                    f"Found failed daemon pod {pod.namespace}/{pod.name} on node {NODE}, "
                    "will try to kill it",
                    type=events.WARNING,
                )
            self._event(rec, "SuccessfulDelete", f"Deleted pod: {pod.name}")
        if todo.create:
            taken = {p.name for p in store.list_pods(rec.namespace)}
            body = ds.pod_manifest(
                spec, chosen.update, name=_random_name(f"{spec.name}-", taken), node=NODE
            )
            try:
                created = ownedpods.create(self.host, [body], origin=rec.origin)
            except KubeplayError as err:  # the loop retries the set with back-off
                self._event(rec, "FailedCreate", f"Error creating: {err}", type=events.WARNING)
                raise
            for note in created.notes:  # the pod waits ErrImagePull: its own events say so
                _log.info("daemonset_pod_image", daemonset=rec.name, note=note)
            for pod in created.pods:
                self._event(rec, "SuccessfulCreate", f"Created pod: {pod.name}")
                touched.append(ObjectKey("Pod", pod.namespace, pod.name))
        live = [chosen.update.name] + [
            r.name for r in stored if r.name.rsplit("-", 1)[-1] in {p.revision for p in pods}
        ]
        revision_store.prune_revisions(store, stored, live=live, limit=spec.history_limit)
        store.set_record_status(rec.uid, todo.status)
        fresh = store.get_record_by_uid(rec.uid) or rec
        return SyncResult(
            requeue_after=todo.requeue_after,
            needs_supervisor=not settled(fresh),
            also=tuple(touched),
        )

    def _collect(self, key: ObjectKey) -> SyncResult:
        """The set is gone: delete its pods, then its revisions."""
        store = self.host.store

        def mine(body: dict[str, object]) -> bool:
            ref = ownedpods.controller_ref(body)
            return ref.get("kind") == KIND and ref.get("name") == key.name

        pods = [p for p in store.list_pods(key.namespace) if mine(p.manifest)]
        for pod in pods:
            if pod.lifecycle != "terminating":
                ownedpods.delete(self.host, pod)
        if pods:
            return SyncResult(
                needs_supervisor=True,
                also=tuple(ObjectKey("Pod", p.namespace, p.name) for p in pods),
            )
        revisions = store.list_records([revisions_mod.KIND], key.namespace)
        store.delete_records([r.uid for r in revisions if mine(r.body)])
        return SyncResult()
