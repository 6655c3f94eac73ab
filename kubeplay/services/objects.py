"""ConfigMaps and Secrets: store those a play defines, list and delete them, undo a failed play.

`apply` is kubectl apply's create-or-update for the ConfigMaps and Secrets of one play, checked
as the API server would (an `immutable` object may not change) before anything is written, then
written in one transaction; its `AppliedObjects` lets the play put back what was there when a
pod of the same play fails. Writers take one lock, so two plays cannot both pass the immutable
check and then write. Pods read the objects when their containers are created (the engine).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeplay.engine import host as host_mod
from kubeplay.errors import ManifestError, NotFoundError, UsageError
from kubeplay.plan import configdata
from kubeplay.settings import Settings
from kubeplay.state.store import SqliteStore, StoredObject

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


def _ref(kind: str, name: str) -> str:
    return f"{kind.lower()}/{name}"


@contextmanager
def _writing(settings: Settings) -> Iterator[None]:
    import fcntl
    import os

    settings.locks_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.locks_dir / "objects.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def config_objects(objects: Sequence[KubeObject]) -> list[KubeObject]:
    return [o for o in objects if o.kind in configdata.CONFIG_KINDS]


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


def apply(settings: Settings, store: SqliteStore, objects: Sequence[KubeObject]) -> AppliedObjects:
    """Create or update every ConfigMap/Secret in `objects`; refuse (ManifestError, nothing
    written) a change of an immutable one."""
    if not objects:
        return AppliedObjects()
    now = time.time()
    created: list[str] = []
    configured: list[str] = []
    unchanged: list[str] = []
    before: list[tuple[tuple[str, str, str], StoredObject | None]] = []
    writes: list[StoredObject] = []
    with _writing(settings):
        for obj in objects:
            body = configdata.normalize(obj.kind, obj.body)
            old = store.get_object(obj.kind, obj.namespace, obj.name)
            if old is not None:
                problems = configdata.immutable_problems(obj.kind, old.body, body)
                if problems:
                    path, message = problems[0]
                    raise ManifestError(
                        f"{obj.kind} {obj.namespace}/{obj.name} exists: Forbidden: {message}"
                        + "".join(f"; {p}: Forbidden: {m}" for p, m in problems[1:]),
                        source=obj.source,
                        doc_index=obj.doc_index,
                        kind=obj.kind,
                        name=obj.name,
                        path=path,
                        line=obj.line_of(path),
                    )
                if old.body == body and old.source == obj.source:
                    unchanged.append(_ref(obj.kind, obj.name))
                    continue
            (configured if old is not None else created).append(_ref(obj.kind, obj.name))
            before.append(((obj.kind, obj.namespace, obj.name), old))
            writes.append(
                StoredObject(
                    kind=obj.kind,
                    namespace=obj.namespace,
                    name=obj.name,
                    source=obj.source,
                    body=body,
                    uid=str(uuid.uuid4()),
                    created_at=now,
                    updated_at=now,
                )
            )
        store.put_objects(writes)
    return AppliedObjects(
        created=tuple(created),
        configured=tuple(configured),
        unchanged=tuple(unchanged),
        before=tuple(before),
    )


def undo(settings: Settings, store: SqliteStore, applied: AppliedObjects) -> None:
    """Put back what `apply` changed: delete what it created, restore what it updated."""
    with _writing(settings):
        for (kind, namespace, name), old in applied.before:
            if old is None:
                store.delete_object(kind, namespace, name)
        store.put_objects([old for _, old in applied.before if old is not None])


def remove_defined(
    settings: Settings, store: SqliteStore, objects: Sequence[KubeObject]
) -> list[str]:
    """`down FILE`: delete the ConfigMaps/Secrets the file defines; the refs removed."""
    removed: list[str] = []
    with _writing(settings):
        for obj in config_objects(objects):
            if store.delete_object(obj.kind, obj.namespace, obj.name):
                removed.append(_ref(obj.kind, obj.name))
    return removed


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

    if not names:
        raise UsageError(f"delete {kind.lower()}: at least one name is required")
    host = host_mod.open_host(settings)
    try:
        with _writing(settings):
            removed = [n for n in names if host.store.delete_object(kind, namespace, n)]
        engine_volumes.refresh_object_volumes(host, [(kind, namespace, n) for n in removed])
    finally:
        host.close()
    absent = [n for n in names if n not in removed]
    if absent:
        raise NotFoundError(f'{kind.lower()}s "{", ".join(absent)}" not found')
    return removed
