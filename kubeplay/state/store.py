"""SqliteStore: kubeplay's desired and recorded state, one SQLite file (WAL) per install.

Pods are written in one transaction per play before anything is created, so a crash leaves
rows the next `down`/`system reset` can clean. Config (what was played: manifest, plan) and
state (what was made: netns, container ids, pids) live in separate columns/tables, as in
podman's sqlite state. Every connection sets a busy timeout so concurrent commands queue
instead of failing; the schema version is checked and a newer database is refused.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeplay.errors import AlreadyExistsError, SchemaVersionError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pods (
    uid TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    lifecycle TEXT NOT NULL DEFAULT 'creating',
    started_at REAL,
    netns TEXT,
    pod_ip TEXT UNIQUE,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS containers (
    pod_uid TEXT NOT NULL REFERENCES pods(uid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    container_id TEXT UNIQUE,
    pid INTEGER,
    restart_count INTEGER NOT NULL DEFAULT 0,
    created_at REAL,
    started_at REAL,
    log_path TEXT,
    waiting_reason TEXT,
    waiting_message TEXT,
    last_termination_json TEXT,
    pid_start INTEGER,
    PRIMARY KEY (pod_uid, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pod_uid TEXT NOT NULL REFERENCES pods(uid) ON DELETE CASCADE,
    type TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    field_path TEXT NOT NULL DEFAULT '',
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS events_by_pod ON events (pod_uid, id);
CREATE TABLE IF NOT EXISTS probe_state (
    pod_uid TEXT NOT NULL REFERENCES pods(uid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    container_id TEXT NOT NULL,
    readiness INTEGER,
    startup INTEGER,
    updated_at REAL NOT NULL,
    PRIMARY KEY (pod_uid, name)
);
CREATE TABLE IF NOT EXISTS workloads (
    uid TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (namespace, kind, name)
);
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    namespace TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    claim_json TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    source TEXT NOT NULL,
    body_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS boot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    boot_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pod_failures (
    pod_uid TEXT PRIMARY KEY REFERENCES pods(uid) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    at REAL NOT NULL
);
"""
_TABLES = frozenset(
    line.split()[5] for line in _SCHEMA.splitlines() if line.startswith("CREATE TABLE")
)
# Columns added to a table after databases were made with it: (table, column, type).
_ADDED_COLUMNS = (("containers", "pid_start", "INTEGER"),)


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    pod_uid: str
    name: str
    kind: str
    container_id: str = ""
    pid: int = 0
    restart_count: int = 0
    created_at: float | None = None
    started_at: float | None = None
    log_path: str = ""
    waiting_reason: str = ""
    waiting_message: str = ""
    last_termination: dict[str, Any] | None = None
    pid_start: int = 0  # the start time of `pid` (runtime.procs): a pid alone is not trusted


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A Kubernetes-style event about a pod (or one of its containers, by field_path such as
    `spec.containers{web}`). A repeat of an event of the pod with the same type, reason,
    message and field path bumps its `count` and `last_at`, as client-go's EventCorrelator
    aggregates the kubelet's events (a crash loop's Pulled/Created/Started/BackOff cycle
    stays four events)."""

    id: int
    pod_uid: str
    type: str  # Normal | Warning
    reason: str
    message: str
    field_path: str
    first_at: float
    last_at: float
    count: int = 1


@dataclass(frozen=True, slots=True)
class ProbeStateRecord:
    """The published readiness and startup results of one container instance (the prober's;
    None: no result yet). Rows of an older container id are stale: status ignores them."""

    pod_uid: str
    name: str
    container_id: str
    readiness: bool | None
    startup: bool | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    """A named volume (persistentVolumeClaim): made by a PVC object in the input (`source`
    names its file, `claim` is the object) or by first use from a pod (`source` empty)."""

    name: str
    created_at: float
    namespace: str = ""
    source: str = ""
    claim: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A namespaced object other than a Pod (ConfigMap, Secret...), as played: `body` is the
    manifest as the API server would store it (a Secret's stringData already merged into
    data). `uid` and `created_at` are kept from the first put; `updated_at` is the latest."""

    kind: str
    namespace: str
    name: str
    source: str
    body: dict[str, Any]
    uid: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class PodRecord:
    uid: str
    namespace: str
    name: str
    source: str
    manifest: dict[str, Any]
    plan_json: str
    created_at: float
    lifecycle: str = "creating"  # creating | active | terminating
    started_at: float | None = None
    netns: str = ""
    pod_ip: str = ""
    containers: tuple[ContainerRecord, ...] = field(default=())


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


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # one connection, shared by the engine's threads
        self._db = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        row = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if row is not None:
            version = self._db.execute("SELECT schema_version FROM meta").fetchone()
            if version is not None and version[0] > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"state database schema {version[0]} is newer than this kubeplay "
                    f"({SCHEMA_VERSION}): upgrade kubeplay"
                )
            if version is not None and self._has_all_tables() and not self._missing_columns():
                return
        with self.transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for table, column, kind in self._missing_columns():
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            db.execute(
                "INSERT OR IGNORE INTO meta (id, schema_version) VALUES (1, ?)", (SCHEMA_VERSION,)
            )

    def _has_all_tables(self) -> bool:
        """Tables added since a database was created are made on open (CREATE IF NOT EXISTS);
        checking the table names first keeps opening an up-to-date database cheap."""
        rows = self._db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        return _TABLES.issubset(r[0] for r in rows)

    def _missing_columns(self) -> list[tuple[str, str, str]]:
        have: dict[str, set[str]] = {}
        for table, _column, _kind in _ADDED_COLUMNS:
            if table not in have:
                rows = self._db.execute(f"PRAGMA table_info({table})").fetchall()
                have[table] = {r[1] for r in rows}
        return [added for added in _ADDED_COLUMNS if added[1] not in have[added[0]]]

    # boot ---------------------------------------------------------------------------------

    def start_boot(self, boot_id: str, *, at: float) -> bool:
        """Record that the state now belongs to boot `boot_id`. On a boot other than the one
        recorded (the host rebooted: every process is gone, pid numbers mean nothing) every
        container's pid is forgotten in the same transaction. True when this call did that."""
        with self._lock:
            row = self._db.execute("SELECT boot_id FROM boot WHERE id = 1").fetchone()
        if row is not None and row[0] == boot_id:
            return False  # the common case: no write
        with self.transaction() as db:
            row = db.execute("SELECT boot_id FROM boot WHERE id = 1").fetchone()
            if row is not None and row[0] == boot_id:
                return False
            db.execute(
                "INSERT INTO boot (id, boot_id, at) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET boot_id = excluded.boot_id, at = excluded.at",
                (boot_id, at),
            )
            if row is None:
                return False  # a new database (or one from before boots were recorded)
            db.execute("UPDATE containers SET pid = NULL, pid_start = NULL")
        return True

    # pods ---------------------------------------------------------------------------------

    def add_pods(
        self, pods: Sequence[PodRecord], *, workloads: Sequence[WorkloadRecord] = ()
    ) -> None:
        """Insert every pod (and the workloads that made them) in one transaction;
        AlreadyExistsError names the first clash."""
        with self.transaction() as db:
            for w in workloads:
                try:
                    db.execute(
                        "INSERT INTO workloads (uid, namespace, kind, name, source, "
                        "manifest_json, created_at) VALUES (?,?,?,?,?,?,?)",
                        (
                            w.uid,
                            w.namespace,
                            w.kind,
                            w.name,
                            w.source,
                            json.dumps(w.manifest),
                            w.created_at,
                        ),
                    )
                except sqlite3.IntegrityError as err:
                    raise AlreadyExistsError(
                        f"{w.kind.lower()} {w.namespace}/{w.name}: already exists "
                        "(use --replace to play it again)"
                    ) from err
            for pod in pods:
                try:
                    db.execute(
                        "INSERT INTO pods (uid, namespace, name, source, manifest_json, "
                        "plan_json, created_at, lifecycle) VALUES (?,?,?,?,?,?,?,?)",
                        (
                            pod.uid,
                            pod.namespace,
                            pod.name,
                            pod.source,
                            json.dumps(pod.manifest),
                            pod.plan_json,
                            pod.created_at,
                            pod.lifecycle,
                        ),
                    )
                except sqlite3.IntegrityError as err:
                    raise AlreadyExistsError(
                        f"pod {pod.namespace}/{pod.name}: already exists "
                        "(use --replace to play it again)"
                    ) from err

    def update_pod(self, uid: str, **values: Any) -> None:
        allowed = {"lifecycle", "started_at", "netns", "pod_ip", "plan_json"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown pod columns {sorted(unknown)}")
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as db:
            db.execute(f"UPDATE pods SET {cols} WHERE uid = ?", (*values.values(), uid))

    def delete_pod(self, uid: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM pods WHERE uid = ?", (uid,))

    def get_pod(self, namespace: str, name: str) -> PodRecord | None:
        pods = self._select("WHERE p.namespace = ? AND p.name = ?", (namespace, name))
        return pods[0] if pods else None

    def get_pod_by_uid(self, uid: str) -> PodRecord | None:
        pods = self._select("WHERE p.uid = ?", (uid,))
        return pods[0] if pods else None

    def list_pods(self, namespace: str | None = None) -> list[PodRecord]:
        if namespace is None:
            return self._select("", ())
        return self._select("WHERE p.namespace = ?", (namespace,))

    def assign_ip(self, uid: str, choose: Callable[[set[str]], str]) -> str:
        """Lease an address to pod `uid`: `choose(used)` picks it inside one transaction, so
        two commands can never hand out the same address."""
        with self.transaction() as db:
            rows = db.execute("SELECT pod_ip FROM pods WHERE pod_ip IS NOT NULL").fetchall()
            ip = choose({r[0] for r in rows})
            db.execute("UPDATE pods SET pod_ip = ? WHERE uid = ?", (ip, uid))
        return ip

    def used_ips(self) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT pod_ip FROM pods WHERE pod_ip IS NOT NULL").fetchall()
        return {r[0] for r in rows}

    def _select(self, where: str, args: tuple[Any, ...]) -> list[PodRecord]:
        with self._lock:
            return self._select_locked(where, args)

    def _select_locked(self, where: str, args: tuple[Any, ...]) -> list[PodRecord]:
        rows = self._db.execute(
            f"SELECT * FROM pods p {where} ORDER BY p.namespace, p.name", args
        ).fetchall()
        if not rows:
            return []
        uids = [r["uid"] for r in rows]
        marks = ",".join("?" * len(uids))
        crow = self._db.execute(
            f"SELECT * FROM containers WHERE pod_uid IN ({marks}) ORDER BY rowid", uids
        ).fetchall()
        by_pod: dict[str, list[ContainerRecord]] = {}
        for c in crow:
            by_pod.setdefault(c["pod_uid"], []).append(_container(c))
        return [
            PodRecord(
                uid=r["uid"],
                namespace=r["namespace"],
                name=r["name"],
                source=r["source"],
                manifest=json.loads(r["manifest_json"]),
                plan_json=r["plan_json"],
                created_at=r["created_at"],
                lifecycle=r["lifecycle"],
                started_at=r["started_at"],
                netns=r["netns"] or "",
                pod_ip=r["pod_ip"] or "",
                containers=tuple(by_pod.get(r["uid"], ())),
            )
            for r in rows
        ]

    # workloads ----------------------------------------------------------------------------

    def get_workload(self, namespace: str, kind: str, name: str) -> WorkloadRecord | None:
        found = self._workloads(
            "WHERE namespace = ? AND kind = ? AND name = ?", (namespace, kind, name)
        )
        return found[0] if found else None

    def list_workloads(self, namespace: str | None = None) -> list[WorkloadRecord]:
        if namespace is None:
            return self._workloads("", ())
        return self._workloads("WHERE namespace = ?", (namespace,))

    def delete_workload(self, uid: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM workloads WHERE uid = ?", (uid,))

    def _workloads(self, where: str, args: tuple[Any, ...]) -> list[WorkloadRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM workloads {where} ORDER BY namespace, kind, name", args
            ).fetchall()
        return [
            WorkloadRecord(
                uid=r["uid"],
                namespace=r["namespace"],
                kind=r["kind"],
                name=r["name"],
                source=r["source"],
                manifest=json.loads(r["manifest_json"]),
                created_at=r["created_at"],
            )
            for r in rows
        ]

    # containers ---------------------------------------------------------------------------

    def put_container(self, rec: ContainerRecord) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO containers (pod_uid, name, kind, container_id, pid, restart_count, "
                "created_at, started_at, log_path, waiting_reason, waiting_message, "
                "last_termination_json, pid_start) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (pod_uid, name) DO UPDATE SET kind=excluded.kind, "
                "container_id=excluded.container_id, pid=excluded.pid, "
                "restart_count=excluded.restart_count, created_at=excluded.created_at, "
                "started_at=excluded.started_at, log_path=excluded.log_path, "
                "waiting_reason=excluded.waiting_reason, "
                "waiting_message=excluded.waiting_message, "
                "last_termination_json=excluded.last_termination_json, "
                "pid_start=excluded.pid_start",
                (
                    rec.pod_uid,
                    rec.name,
                    rec.kind,
                    rec.container_id or None,
                    rec.pid or None,
                    rec.restart_count,
                    rec.created_at,
                    rec.started_at,
                    rec.log_path,
                    rec.waiting_reason,
                    rec.waiting_message,
                    json.dumps(rec.last_termination) if rec.last_termination else None,
                    rec.pid_start or None,
                ),
            )

    # events -------------------------------------------------------------------------------

    def add_event(
        self,
        pod_uid: str,
        *,
        type: str,
        reason: str,
        message: str,
        field_path: str = "",
        at: float,
    ) -> EventRecord:
        """Record an event; a repeat of one of the pod's events is counted, not duplicated."""
        with self.transaction() as db:
            last = db.execute(
                "SELECT * FROM events WHERE pod_uid = ? AND type = ? AND reason = ? "
                "AND message = ? AND field_path = ? ORDER BY id DESC LIMIT 1",
                (pod_uid, type, reason, message, field_path),
            ).fetchone()
            if last is not None:
                db.execute(
                    "UPDATE events SET count = count + 1, last_at = ? WHERE id = ?",
                    (at, last["id"]),
                )
                event_id = last["id"]
            else:
                cur = db.execute(
                    "INSERT INTO events (pod_uid, type, reason, message, field_path, first_at, "
                    "last_at) VALUES (?,?,?,?,?,?,?)",
                    (pod_uid, type, reason, message, field_path, at, at),
                )
                event_id = cur.lastrowid
            row = db.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return _event(row)

    def list_events(self, pod_uid: str | None = None) -> list[EventRecord]:
        """Events in the order they were first recorded, of one pod or of all."""
        with self._lock:
            if pod_uid is None:
                rows = self._db.execute("SELECT * FROM events ORDER BY id").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM events WHERE pod_uid = ? ORDER BY id", (pod_uid,)
                ).fetchall()
        return [_event(r) for r in rows]

    # probe state ---------------------------------------------------------------------------

    def put_probe_state(self, rec: ProbeStateRecord) -> bool:
        """Record a container's probe results; False (nothing written) if the pod is gone."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO probe_state (pod_uid, name, container_id, readiness, startup, "
                "updated_at) SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM pods WHERE uid = ?) "
                "ON CONFLICT (pod_uid, name) DO UPDATE SET container_id=excluded.container_id, "
                "readiness=excluded.readiness, startup=excluded.startup, "
                "updated_at=excluded.updated_at",
                (
                    rec.pod_uid,
                    rec.name,
                    rec.container_id,
                    rec.readiness,
                    rec.startup,
                    rec.updated_at,
                    rec.pod_uid,
                ),
            )
            return cur.rowcount > 0

    def get_probe_states(self, pod_uid: str) -> dict[str, ProbeStateRecord]:
        """A pod's probe results by container name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM probe_state WHERE pod_uid = ?", (pod_uid,)
            ).fetchall()
        return {r["name"]: _probe_state(r) for r in rows}

    # pod failures decided by kubeplay (DeadlineExceeded) ----------------------------------

    def set_pod_failure(self, uid: str, *, reason: str, message: str, at: float) -> None:
        """Mark a pod Failed for `reason` (kept once set: the first reason stays)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO pod_failures (pod_uid, reason, message, at) "
                "VALUES (?,?,?,?)",
                (uid, reason, message, at),
            )

    def get_pod_failure(self, uid: str) -> tuple[str, str] | None:
        """(reason, message) of a pod kubeplay failed, else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT reason, message FROM pod_failures WHERE pod_uid = ?", (uid,)
            ).fetchone()
        return (row["reason"], row["message"]) if row is not None else None

    # objects (ConfigMaps, Secrets...) ------------------------------------------------------

    def put_objects(self, objs: Sequence[StoredObject]) -> None:
        """Create or update every object in one transaction (uid and created_at of an object
        that exists are kept)."""
        with self.transaction() as db:
            for obj in objs:
                db.execute(
                    "INSERT INTO objects (kind, namespace, name, uid, source, body_json, "
                    "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (kind, namespace, name) DO UPDATE SET source=excluded.source, "
                    "body_json=excluded.body_json, updated_at=excluded.updated_at",
                    (
                        obj.kind,
                        obj.namespace,
                        obj.name,
                        obj.uid,
                        obj.source,
                        json.dumps(obj.body),
                        obj.created_at,
                        obj.updated_at or obj.created_at,
                    ),
                )

    def get_object(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                (kind, namespace, name),
            ).fetchone()
        return _object(row) if row is not None else None

    def list_objects(
        self, kind: str | None = None, namespace: str | None = None
    ) -> list[StoredObject]:
        """Objects ordered by kind, namespace and name; None means any."""
        where = []
        args: list[str] = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if namespace is not None:
            where.append("namespace = ?")
            args.append(namespace)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM objects {clause} ORDER BY kind, namespace, name", args
            ).fetchall()
        return [_object(r) for r in rows]

    def delete_object(self, kind: str, namespace: str, name: str) -> bool:
        """Remove one object; False when there was none."""
        with self.transaction() as db:
            cur = db.execute(
                "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                (kind, namespace, name),
            )
        return cur.rowcount > 0

    # volumes ------------------------------------------------------------------------------

    def ensure_volume(
        self,
        name: str,
        *,
        at: float,
        namespace: str = "",
        source: str = "",
        claim: dict[str, Any] | None = None,
    ) -> bool:
        """Record volume `name` unless it exists; a PVC object (`claim`) given later is kept
        with it. True when this call created the row."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO volumes (name, created_at, namespace, source, claim_json) "
                "VALUES (?,?,?,?,?)",
                (name, at, namespace, source, json.dumps(claim) if claim else None),
            )
            created = cur.rowcount == 1
            if not created and claim is not None:
                db.execute(
                    "UPDATE volumes SET namespace = ?, source = ?, claim_json = ? WHERE name = ?",
                    (namespace, source, json.dumps(claim), name),
                )
        return created

    def get_volume(self, name: str) -> VolumeRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
        return _volume(row) if row is not None else None

    def list_volumes(self) -> list[VolumeRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM volumes ORDER BY name").fetchall()
        return [_volume(r) for r in rows]

    def delete_volume(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM volumes WHERE name = ?", (name,))


def _probe_state(row: sqlite3.Row) -> ProbeStateRecord:
    def flag(value: int | None) -> bool | None:
        return None if value is None else bool(value)

    return ProbeStateRecord(
        pod_uid=row["pod_uid"],
        name=row["name"],
        container_id=row["container_id"],
        readiness=flag(row["readiness"]),
        startup=flag(row["startup"]),
        updated_at=row["updated_at"],
    )


def _object(row: sqlite3.Row) -> StoredObject:
    return StoredObject(
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
        source=row["source"],
        body=json.loads(row["body_json"]),
        uid=row["uid"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _volume(row: sqlite3.Row) -> VolumeRecord:
    claim = row["claim_json"]
    return VolumeRecord(
        name=row["name"],
        created_at=row["created_at"],
        namespace=row["namespace"],
        source=row["source"],
        claim=json.loads(claim) if claim else None,
    )


def _event(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        id=row["id"],
        pod_uid=row["pod_uid"],
        type=row["type"],
        reason=row["reason"],
        message=row["message"],
        field_path=row["field_path"],
        first_at=row["first_at"],
        last_at=row["last_at"],
        count=row["count"],
    )


def _container(row: sqlite3.Row) -> ContainerRecord:
    last = row["last_termination_json"]
    return ContainerRecord(
        pod_uid=row["pod_uid"],
        name=row["name"],
        kind=row["kind"],
        container_id=row["container_id"] or "",
        pid=row["pid"] or 0,
        restart_count=row["restart_count"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        log_path=row["log_path"] or "",
        waiting_reason=row["waiting_reason"] or "",
        waiting_message=row["waiting_message"] or "",
        last_termination=json.loads(last) if last else None,
        pid_start=row["pid_start"] or 0,
    )
