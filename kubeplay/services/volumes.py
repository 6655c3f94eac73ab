"""Named volumes (persistentVolumeClaim): `volume ls | inspect | rm`, and what play and down do
with them.

A claim is a named volume called after its claimName (podman's `kube play` does the same, so
one name is one volume in every namespace). It is made by a PersistentVolumeClaim object in
the input, or, when a pod names a claim nothing defines, on first use (as podman). Volumes
outlive their pods: `down` keeps them unless `--volumes`; `volume rm` refuses a volume a pod
uses unless `--force`, which removes those pods first (podman's `volume rm --force`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeplay.engine import host as host_mod
from kubeplay.errors import KubeplayError, NotFoundError
from kubeplay.plan.volumes import VolumeKind
from kubeplay.settings import Settings
from kubeplay.state.store import VolumeRecord

if TYPE_CHECKING:
    from kubeplay.kube.objects import KubeObject
    from kubeplay.plan.pods import PodPlan


class VolumeInUseError(KubeplayError):
    pass


@dataclass(frozen=True, slots=True)
class VolumeView:
    record: VolumeRecord
    mountpoint: str
    users: tuple[str, ...]  # pods (ns/name) whose plan names the claim

    def to_dict(self) -> dict[str, Any]:
        rec = self.record
        return {
            "Name": rec.name,
            "Driver": "local",
            "Mountpoint": self.mountpoint,
            "CreatedAt": rec.created_at,
            "Namespace": rec.namespace,
            "Source": rec.source,
            "Claim": rec.claim,
            "UsedBy": list(self.users),
        }


def claims_of(plan: PodPlan) -> list[str]:
    return [v.claim_name for v in plan.volumes if v.kind == VolumeKind.PVC]


def _users(host: host_mod.Host) -> dict[str, list[str]]:
    from kubeplay.plan import pods as plans

    found: dict[str, list[str]] = {}
    for rec in host.store.list_pods():
        for claim in claims_of(plans.from_json(rec.plan_json)):
            found.setdefault(claim, []).append(f"{rec.namespace}/{rec.name}")
    return found


def ensure_claims(
    host: host_mod.Host, objects: Sequence[KubeObject], plans: Iterable[PodPlan]
) -> list[str]:
    """Make the volumes of the input's PVC objects and of every claim its pods name; returns
    the names this call created (a failed play removes them again)."""
    from kubeplay.engine import volumes

    created: list[str] = []
    for obj in objects:
        if obj.kind == "PersistentVolumeClaim":
            made = volumes.ensure_named_volume(
                host, obj.name, namespace=obj.namespace, source=obj.source, claim=obj.body
            )
            if made:
                created.append(obj.name)
    for plan in plans:
        for claim in claims_of(plan):
            if volumes.ensure_named_volume(host, claim, namespace=plan.namespace):
                created.append(claim)
    return created


def remove_unused(host: host_mod.Host, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Remove the named volumes no pod uses; returns (removed, kept because in use)."""
    from kubeplay.engine import volumes

    users = _users(host)
    removed: list[str] = []
    kept: list[str] = []
    for name in dict.fromkeys(names):
        if host.store.get_volume(name) is None:
            continue
        if users.get(name):
            kept.append(name)
            continue
        volumes.remove_named_volume(host, name)
        removed.append(name)
    return removed, kept


def claims_of_pods(host: host_mod.Host, refs: Iterable[tuple[str, str]]) -> list[str]:
    """The claims the stored pods `refs` name."""
    from kubeplay.plan import pods as plans

    found: list[str] = []
    for namespace, name in refs:
        rec = host.store.get_pod(namespace, name)
        if rec is not None:
            found.extend(claims_of(plans.from_json(rec.plan_json)))
    return found


def remove_claims(settings: Settings, names: Sequence[str]) -> tuple[list[str], list[str]]:
    host = host_mod.open_host(settings)
    try:
        return remove_unused(host, names)
    finally:
        host.close()


def _view(host: host_mod.Host, rec: VolumeRecord, users: dict[str, list[str]]) -> VolumeView:
    from kubeplay.engine import volumes

    return VolumeView(
        record=rec,
        mountpoint=str(volumes.named_volume_data(host, rec.name)),
        users=tuple(users.get(rec.name, ())),
    )


def list_volumes(settings: Settings) -> list[VolumeView]:
    host = host_mod.open_host(settings)
    try:
        users = _users(host)
        return [_view(host, rec, users) for rec in host.store.list_volumes()]
    finally:
        host.close()


def inspect(settings: Settings, names: Sequence[str]) -> list[VolumeView]:
    host = host_mod.open_host(settings)
    try:
        users = _users(host)
        views = []
        for name in names:
            rec = host.store.get_volume(name)
            if rec is None:
                raise NotFoundError(f"volume {name}: no such volume")
            views.append(_view(host, rec, users))
        return views
    finally:
        host.close()


def remove(settings: Settings, names: Sequence[str], *, force: bool = False) -> list[str]:
    """Remove named volumes; one in use is refused unless `force` (its pods go first)."""
    from kubeplay.engine import volumes
    from kubeplay.services import play

    host = host_mod.open_host(settings)
    try:
        users = _users(host)
        for name in names:
            if host.store.get_volume(name) is None:
                raise NotFoundError(f"volume {name}: no such volume")
            if users.get(name) and not force:
                raise VolumeInUseError(
                    f"volume {name}: in use by pod {', '.join(users[name])} "
                    "(remove the pods first, or use --force)"
                )
        pods = sorted({ref for name in names for ref in users.get(name, ())})
    finally:
        host.close()
    by_namespace: dict[str, list[str]] = {}
    for ref in pods:
        namespace, _, name = ref.partition("/")
        by_namespace.setdefault(namespace, []).append(name)
    for namespace, pod_names in by_namespace.items():
        play.delete(settings, namespace, pod_names)
    host = host_mod.open_host(settings)
    try:
        for name in names:
            volumes.remove_named_volume(host, name)
        return list(names)
    finally:
        host.close()
