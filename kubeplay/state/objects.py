"""The `objects` table: one row per object of every kind, the desired state.

Identity is (API group, kind, namespace, name), unique; `uid` is the primary key. A row keeps
the applying source (applyset; `play` is one), the origin (file and document), the manifest
as last applied (and its SHA-256, the unchanged fast path), the live body (defaulted, with
uid, creationTimestamp, generation) and its content hash. Runtime state is elsewhere (pods,
volumes). `StoredObject` and `WorkloadRecord` are the narrower views the ConfigMap/Secret and
Deployment code of `play` reads. Decides nothing: the engine's apply step writes what
`plan.apply` decided.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.errors import AlreadyExistsError
from kubeplay.state.db import Database
from kubeplay.state.schema import sha256_of

PLAY_SOURCE = "play"  # the source of what `play` made (never pruned by apply or watch)

# The API group of the kinds whose rows the narrower views write.
_GROUPS = {"Deployment": "apps", "ReplicaSet": "apps", "StatefulSet": "apps", "DaemonSet": "apps"}
WORKLOAD_KINDS = ("Deployment",)


def group_of_kind(kind: str) -> str:
    return _GROUPS.get(kind, "")


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """One stored object. `last_applied` is the manifest as parsed when last applied (None
    for objects no manifest defined); `body` is the live object."""

    uid: str
    api_group: str
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]
    source: str = ""
    origin: str = ""
    last_applied: dict[str, Any] | None = None
    last_applied_sha256: str = ""
    generation: int = 1
    content_hash: str = ""
    owner_uid: str = ""
    deleting_at: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.api_group, self.kind, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A namespaced object other than a Pod (ConfigMap, Secret...), as played: `body` is the
    manifest as the API server would store it (a Secret's stringData already merged into
    data). `uid` and `created_at` are kept from the first put; `updated_at` is the latest.
    `source` is the file it came from (the row's origin)."""

    kind: str
    namespace: str
    name: str
    source: str
    body: dict[str, Any]
    uid: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class WorkloadRecord:
    """A workload (Deployment) as played; its pods are rows of `pods` whose manifest names
    the workload's controller in ownerReferences (kube.workloads.owns)."""

    uid: str
    namespace: str
    kind: str
    name: str
    source: str
    manifest: dict[str, Any]
    created_at: float


def controller_uid(body: dict[str, Any]) -> str:
    """The uid of the controlling ownerReference ("" if none)."""
    for ref in (body.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


_UPSERT = (
    "INSERT INTO objects (uid, api_group, kind, namespace, name, generation, content_hash, "
    "owner_uid, source, origin, last_applied_json, last_applied_sha256, body_json, "
    "deleting_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (uid) DO UPDATE SET api_group=excluded.api_group, kind=excluded.kind, "
    "namespace=excluded.namespace, name=excluded.name, generation=excluded.generation, "
    "content_hash=excluded.content_hash, owner_uid=excluded.owner_uid, "
    "source=excluded.source, origin=excluded.origin, "
    "last_applied_json=excluded.last_applied_json, "
    "last_applied_sha256=excluded.last_applied_sha256, body_json=excluded.body_json, "
    "deleting_at=excluded.deleting_at, updated_at=excluded.updated_at"
)


def _values(rec: ObjectRecord) -> tuple[Any, ...]:
    last = rec.last_applied
    return (
        rec.uid,
        rec.api_group,
        rec.kind,
        rec.namespace,
        rec.name,
        rec.generation,
        rec.content_hash or sha256_of(rec.body),
        rec.owner_uid,
        rec.source,
        rec.origin,
        json.dumps(last) if last is not None else None,
        rec.last_applied_sha256 or (sha256_of(last) if last is not None else ""),
        json.dumps(rec.body),
        rec.deleting_at,
        rec.created_at,
        rec.updated_at or rec.created_at,
    )


def _record(row: sqlite3.Row) -> ObjectRecord:
    last = row["last_applied_json"]
    return ObjectRecord(
        uid=row["uid"],
        api_group=row["api_group"],
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
        body=json.loads(row["body_json"]),
        source=row["source"],
        origin=row["origin"],
        last_applied=json.loads(last) if last is not None else None,
        last_applied_sha256=row["last_applied_sha256"],
        generation=row["generation"],
        content_hash=row["content_hash"],
        owner_uid=row["owner_uid"],
        deleting_at=row["deleting_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ObjectsTable(Database):
    # generic records -------------------------------------------------------------------

    def put_records(self, records: Iterable[ObjectRecord]) -> None:
        """Create or update (by uid) every record in one transaction; AlreadyExistsError when
        another uid holds the identity."""
        with self.transaction() as db:
            for rec in records:
                try:
                    db.execute(_UPSERT, _values(rec))
                except sqlite3.IntegrityError as err:
                    raise AlreadyExistsError(
                        f"{rec.kind.lower()} {rec.namespace}/{rec.name}: already exists"
                    ) from err

    def delete_records(self, uids: Iterable[str]) -> int:
        """Remove rows (and their events) by uid; how many rows went."""
        removed = 0
        with self.transaction() as db:
            for uid in uids:
                removed += db.execute("DELETE FROM objects WHERE uid = ?", (uid,)).rowcount
                db.execute("DELETE FROM events WHERE uid = ?", (uid,))
        return removed

    def set_origins(self, origins: Mapping[str, str]) -> None:
        """uid -> origin (file and document): an object that moved between files of its
        source, nothing else about it changed."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE objects SET origin = ? WHERE uid = ?",
                [(origin, uid) for uid, origin in origins.items()],
            )

    def set_record_status(self, uid: str, status: Mapping[str, Any]) -> bool:
        """A controller's status of its object (`body.status`), written only when it changed
        and without touching the rest of the body (an apply may be writing the spec). True
        when it changed."""
        text = json.dumps(dict(status), sort_keys=True)
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE objects SET body_json = json_set(body_json, '$.status', json(?)) "
                "WHERE uid = ? AND json(coalesce(json_extract(body_json, '$.status'), 'null')) "
                "IS NOT json(?)",
                (text, uid, text),
            )
        return cur.rowcount > 0

    def get_record(self, group: str, kind: str, namespace: str, name: str) -> ObjectRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM objects WHERE api_group = ? AND kind = ? AND namespace = ? "
                "AND name = ?",
                (group, kind, namespace, name),
            ).fetchone()
        return _record(row) if row is not None else None

    def get_record_by_uid(self, uid: str) -> ObjectRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM objects WHERE uid = ?", (uid,)).fetchone()
        return _record(row) if row is not None else None

    def list_records(
        self,
        kinds: Sequence[str] | None = None,
        namespace: str | None = None,
        *,
        source: str | None = None,
        owner_uid: str | None = None,
    ) -> list[ObjectRecord]:
        """Records ordered by kind, namespace and name; None means any."""
        where: list[str] = []
        args: list[str] = []
        if kinds is not None:
            if not kinds:
                return []
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if namespace is not None:
            where.append("namespace = ?")
            args.append(namespace)
        if source is not None:
            where.append("source = ?")
            args.append(source)
        if owner_uid is not None:
            where.append("owner_uid = ?")
            args.append(owner_uid)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM objects {clause} ORDER BY kind, namespace, name", args
            ).fetchall()
        return [_record(r) for r in rows]

    def has_owned_objects(self) -> bool:
        """Whether any object (a pod, a record) has a controlling owner."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM objects WHERE owner_uid != '' LIMIT 1")
            return row.fetchone() is not None

    def stored_kinds(self) -> list[tuple[str, str]]:
        """(group, kind) of every kind with a row."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT api_group, kind FROM objects ORDER BY kind"
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # ConfigMaps, Secrets (play's view) -------------------------------------------------

    def put_objects(self, objs: Sequence[StoredObject]) -> None:
        """Create or update every object in one transaction (uid and created_at of an object
        that exists are kept; so is the source that applied it)."""
        with self.transaction() as db:
            for obj in objs:
                group = group_of_kind(obj.kind)
                body_json = json.dumps(obj.body)
                digest = sha256_of(obj.body)
                updated = obj.updated_at or obj.created_at
                cur = db.execute(
                    "UPDATE objects SET origin = ?, body_json = ?, content_hash = ?, "
                    "last_applied_json = ?, last_applied_sha256 = ?, updated_at = ? "
                    "WHERE api_group = ? AND kind = ? AND namespace = ? AND name = ?",
                    (
                        obj.source,
                        body_json,
                        digest,
                        body_json,
                        digest,
                        updated,
                        group,
                        obj.kind,
                        obj.namespace,
                        obj.name,
                    ),
                )
                if cur.rowcount:
                    continue
                db.execute(
                    _UPSERT,
                    _values(
                        ObjectRecord(
                            uid=obj.uid,
                            api_group=group,
                            kind=obj.kind,
                            namespace=obj.namespace,
                            name=obj.name,
                            body=obj.body,
                            source=PLAY_SOURCE,
                            origin=obj.source,
                            last_applied=obj.body,
                            created_at=obj.created_at,
                            updated_at=updated,
                        )
                    ),
                )

    def get_object(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        rec = self.get_record(group_of_kind(kind), kind, namespace, name)
        return _stored(rec) if rec is not None else None

    def list_objects(
        self, kind: str | None = None, namespace: str | None = None
    ) -> list[StoredObject]:
        """Objects other than pods and workloads, ordered by kind, namespace and name; None
        means any."""
        if kind is not None:
            return [_stored(r) for r in self.list_records([kind], namespace)]
        return [
            _stored(r)
            for r in self.list_records(None, namespace)
            if r.kind not in ("Pod", *WORKLOAD_KINDS)
        ]

    def delete_object(self, kind: str, namespace: str, name: str) -> bool:
        """Remove one object; False when there was none."""
        rec = self.get_record(group_of_kind(kind), kind, namespace, name)
        return rec is not None and self.delete_records([rec.uid]) > 0

    # workloads (play's view) -----------------------------------------------------------

    def get_workload(self, namespace: str, kind: str, name: str) -> WorkloadRecord | None:
        rec = self.get_record(group_of_kind(kind), kind, namespace, name)
        return _workload(rec) if rec is not None else None

    def list_workloads(self, namespace: str | None = None) -> list[WorkloadRecord]:
        return [_workload(r) for r in self.list_records(WORKLOAD_KINDS, namespace)]

    def delete_workload(self, uid: str) -> None:
        self.delete_records([uid])


_SERVER_SET = ("uid", "creationTimestamp", "generation")


def _as_stored(rec: ObjectRecord) -> dict[str, Any]:
    """The live body without what the apply step sets (uid, creationTimestamp, generation,
    a namespace the manifest left out): the object as played, defaulted."""
    meta = rec.body.get("metadata")
    if not isinstance(meta, dict):
        return rec.body
    given = (rec.last_applied or {}).get("metadata") or {}
    drop = {*_SERVER_SET, *(() if "namespace" in given else ("namespace",))}
    return {**rec.body, "metadata": {k: v for k, v in meta.items() if k not in drop}}


def _stored(rec: ObjectRecord) -> StoredObject:
    return StoredObject(
        kind=rec.kind,
        namespace=rec.namespace,
        name=rec.name,
        source=rec.origin,
        body=_as_stored(rec),
        uid=rec.uid,
        created_at=rec.created_at,
        updated_at=rec.updated_at,
    )


def _workload(rec: ObjectRecord) -> WorkloadRecord:
    return WorkloadRecord(
        uid=rec.uid,
        namespace=rec.namespace,
        kind=rec.kind,
        name=rec.name,
        source=rec.origin,
        manifest=rec.last_applied if rec.last_applied is not None else rec.body,
        created_at=rec.created_at,
    )


def workload_row(w: WorkloadRecord, *, source: str = PLAY_SOURCE) -> ObjectRecord:
    return ObjectRecord(
        uid=w.uid,
        api_group=group_of_kind(w.kind),
        kind=w.kind,
        namespace=w.namespace,
        name=w.name,
        body=w.manifest,
        source=source,
        origin=w.source,
        last_applied=w.manifest,
        created_at=w.created_at,
    )
