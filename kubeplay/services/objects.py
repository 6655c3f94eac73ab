"""ConfigMaps and Secrets: kubectl's names for them, get and delete, and play's view of what an
apply did to them.

Creating and updating them is `services.apply`'s (compute_apply refuses a change of an
`immutable` object before anything is written). `delete configmap|secret` takes the objects'
per-key locks, as apply does; volumes using a removed object are refreshed. Pods read the
objects when their containers are created.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeplay.engine import host as host_mod
from kubeplay.errors import ManifestError, NotFoundError, UsageError
from kubeplay.plan import configdata
from kubeplay.settings import Settings
from kubeplay.state.store import StoredObject

if TYPE_CHECKING:
    from kubeplay.kube.objects import KubeObject

# kubectl's names (plural, singular, short) for the kinds kubeplay stores.
RESOURCES: dict[str, str] = {
    "configmap": "ConfigMap",
    "configmaps": "ConfigMap",
    "cm": "ConfigMap",
    "secret": "Secret",
    "secrets": "Secret",
}


def resource_kind(resource: str) -> str | None:
    """The kind a `get`/`delete` resource word names (configmaps, cm, secret...), else None."""
    return RESOURCES.get(resource.lower())


@dataclass(frozen=True, slots=True)
class AppliedObjects:
    """What one apply did: (kind, namespace, name) -> the object before (None: created)."""

    created: tuple[str, ...] = ()
    configured: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    before: tuple[tuple[tuple[str, str, str], StoredObject | None], ...] = ()


def check_configmap_files(objects: Sequence[KubeObject]) -> None:
    """`play --configmap FILE` takes ConfigMaps and Secrets only (as podman's --configmap)."""
    for obj in objects:
        if obj.kind not in configdata.CONFIG_KINDS:
            raise ManifestError(
                f"--configmap files hold ConfigMaps and Secrets only, not {obj.kind}",
                source=obj.source,
                doc_index=obj.doc_index,
                kind=obj.kind,
                name=obj.name,
                path="kind",
                line=obj.line_of("kind"),
            )


def get_objects(
    settings: Settings, kind: str, *, namespace: str | None, names: Sequence[str] = ()
) -> list[StoredObject]:
    """Objects of `kind` (in `namespace`, None: all); named ones must exist."""
    host = host_mod.open_host(settings)
    try:
        if not names:
            return host.store.list_objects(kind, namespace)
        found: list[StoredObject] = []
        for name in names:
            obj = host.store.get_object(kind, namespace or "default", name)
            if obj is None:
                raise NotFoundError(f'{kind.lower()}s "{name}" not found')
            found.append(obj)
        return found
    finally:
        host.close()


def delete_objects(
    settings: Settings, kind: str, namespace: str, names: Sequence[str]
) -> list[str]:
    """`delete configmap|secret NAME...`: the names removed; NotFoundError names the absent.

    Volumes using a removed object are refreshed as the kubelet's sync does: an optional
    source's files go away, a required one keeps its files (the kubelet's SetUp fails)."""
    from kubeplay.engine import volumes as engine_volumes
    from kubeplay.engine.locks import key_locks
    from kubeplay.kube.kinds import ObjectKey

    if not names:
        raise UsageError(f"delete {kind.lower()}: at least one name is required")
    host = host_mod.open_host(settings)
    try:
        keys = [ObjectKey("", kind, namespace, n) for n in names]
        with key_locks(settings.locks_dir, keys):
            removed = [n for n in names if host.store.delete_object(kind, namespace, n)]
        engine_volumes.refresh_object_volumes(host, [(kind, namespace, n) for n in removed])
    finally:
        host.close()
    absent = [n for n in names if n not in removed]
    if absent:
        raise NotFoundError(f'{kind.lower()}s "{", ".join(absent)}" not found')
    return removed
