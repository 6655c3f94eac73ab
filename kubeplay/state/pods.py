"""The runtime tables of pods: `pods` (what was played and what was made: netns, IP),
`containers`, `probe_state` and `pod_failures`, linked by the pod's uid. Each pod also has its
`objects` row (kind Pod, same uid), written in the same transaction by `add_pods` and removed
with it by `delete_pod`, so the supervisor's code reads pods as before and every other reader
sees one table of objects. Decides nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.errors import AlreadyExistsError
from kubeplay.state.objects import (
    PLAY_SOURCE,
    ObjectRecord,
    ObjectsTable,
    WorkloadRecord,
    controller_uid,
    workload_row,
)
from kubeplay.state.schema import sha256_of


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
    spec_hash: str = ""  # the plan's container hash this instance was created from
    pid_start: int = 0  # the start time of `pid` (runtime.procs): a pid alone is not trusted
    image_id: str = ""  # the image this instance was created from (the plan holds none)
    stop_signal: str = ""  # what stops it, as resolved at creation with its image ("": SIGTERM)
    # How this instance ended when kubeplay recorded it, not conmon's exit file: a start the
    # runtime failed (plan.observed.Termination's fields, StartError).
    termination: dict[str, Any] | None = None


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
    deleting_at: float | None = None  # when its deletion began (metadata.deletionTimestamp)


def pod_row(pod: PodRecord, *, source: str = PLAY_SOURCE) -> ObjectRecord:
    """The `objects` row of a pod played from a manifest (its file as origin)."""
    return ObjectRecord(
        uid=pod.uid,
        api_group="",
        kind="Pod",
        namespace=pod.namespace,
        name=pod.name,
        body=pod.manifest,
        source="" if controller_uid(pod.manifest) else source,
        origin=pod.source,
        last_applied=None if controller_uid(pod.manifest) else pod.manifest,
        owner_uid=controller_uid(pod.manifest),
        created_at=pod.created_at,
    )


class PodsTable(ObjectsTable):
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

    def add_pods(
        self,
        pods: Sequence[PodRecord],
        *,
        workloads: Sequence[WorkloadRecord] = (),
        guard: Callable[[list[PodRecord]], None] | None = None,
    ) -> None:
        """Insert every pod (and the workloads that made them) in one transaction;
        AlreadyExistsError names the first clash. A pod whose `objects` row the caller wrote
        in the same transaction keeps it. `guard` is called in the transaction with the pods
        stored then; what it raises aborts the insert (hostPort claims)."""
        with self.transaction() as db:
            if guard is not None:
                guard(self._select_locked("", ()))
            for w in workloads:
                try:
                    db.execute(_INSERT_OBJECT, _object_values(workload_row(w)))
                except sqlite3.IntegrityError as err:
                    raise AlreadyExistsError(
                        f"{w.kind.lower()} {w.namespace}/{w.name}: already exists"
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
                    known = db.execute("SELECT 1 FROM objects WHERE uid = ?", (pod.uid,)).fetchone()
                    if known is None:
                        db.execute(_INSERT_OBJECT, _object_values(pod_row(pod)))
                except sqlite3.IntegrityError as err:
                    raise AlreadyExistsError(
                        f"pod {pod.namespace}/{pod.name}: already exists"
                    ) from err

    def set_pod_spec(self, uid: str, *, manifest: dict[str, Any], plan_json: str) -> None:
        """A pod updated in place (an image): its manifest and plan."""
        with self.transaction() as db:
            db.execute(
                "UPDATE pods SET manifest_json = ?, plan_json = ? WHERE uid = ?",
                (json.dumps(manifest), plan_json, uid),
            )

    def update_pod(self, uid: str, **values: Any) -> None:
        allowed = {"lifecycle", "started_at", "netns", "pod_ip", "plan_json"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown pod columns {sorted(unknown)}")
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as db:
            db.execute(f"UPDATE pods SET {cols} WHERE uid = ?", (*values.values(), uid))

    def mark_terminating(self, uid: str, *, at: float) -> None:
        """The pod's deletion has begun (kept from the first call: the deletionTimestamp)."""
        with self.transaction() as db:
            db.execute("UPDATE pods SET lifecycle = 'terminating' WHERE uid = ?", (uid,))
            db.execute(
                "INSERT OR IGNORE INTO pod_deletions (pod_uid, requested_at) "
                "SELECT uid, ? FROM pods WHERE uid = ?",
                (at, uid),
            )

    def delete_pod(self, uid: str) -> None:
        """Remove the pod's rows: runtime, object and events."""
        with self.transaction() as db:
            db.execute("DELETE FROM pods WHERE uid = ?", (uid,))
            db.execute("DELETE FROM objects WHERE uid = ?", (uid,))
            db.execute("DELETE FROM events WHERE uid = ?", (uid,))

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
        deleting = dict(
            self._db.execute(
                f"SELECT pod_uid, requested_at FROM pod_deletions WHERE pod_uid IN ({marks})",
                uids,
            ).fetchall()
        )
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
                deleting_at=deleting.get(r["uid"]),
            )
            for r in rows
        ]

    # containers ---------------------------------------------------------------------------

    def put_container(self, rec: ContainerRecord) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO containers (pod_uid, name, kind, container_id, pid, restart_count, "
                "created_at, started_at, log_path, waiting_reason, waiting_message, "
                "last_termination_json, spec_hash, pid_start, image_id, stop_signal, "
                "termination_json) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (pod_uid, name) DO UPDATE SET kind=excluded.kind, "
                "container_id=excluded.container_id, pid=excluded.pid, "
                "restart_count=excluded.restart_count, created_at=excluded.created_at, "
                "started_at=excluded.started_at, log_path=excluded.log_path, "
                "waiting_reason=excluded.waiting_reason, "
                "waiting_message=excluded.waiting_message, "
                "last_termination_json=excluded.last_termination_json, "
                "spec_hash=excluded.spec_hash, pid_start=excluded.pid_start, "
                "image_id=excluded.image_id, stop_signal=excluded.stop_signal, "
                "termination_json=excluded.termination_json",
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
                    rec.spec_hash,
                    rec.pid_start or None,
                    rec.image_id,
                    rec.stop_signal,
                    json.dumps(rec.termination) if rec.termination else None,
                ),
            )

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


_INSERT_OBJECT = (
    "INSERT INTO objects (uid, api_group, kind, namespace, name, content_hash, owner_uid, "
    "source, origin, last_applied_json, last_applied_sha256, body_json, created_at, "
    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _object_values(rec: ObjectRecord) -> tuple[Any, ...]:
    last = rec.last_applied
    return (
        rec.uid,
        rec.api_group,
        rec.kind,
        rec.namespace,
        rec.name,
        sha256_of(rec.body),
        rec.owner_uid,
        rec.source,
        rec.origin,
        json.dumps(last) if last is not None else None,
        sha256_of(last) if last is not None else "",
        json.dumps(rec.body),
        rec.created_at,
        rec.created_at,
    )


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
        spec_hash=row["spec_hash"] or "",
        pid_start=row["pid_start"] or 0,
        image_id=row["image_id"] or "",
        stop_signal=row["stop_signal"] or "",
        termination=json.loads(ended) if (ended := row["termination_json"]) else None,
    )
