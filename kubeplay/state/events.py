"""The `events` table: Kubernetes-style events keyed by the object they are about (uid, kind,
namespace, name), so any kind can have events; a pod's events go with its rows.

A repeat (same object, type, reason, message and field path) bumps `count` and `last_at`, as
client-go's EventCorrelator aggregates the kubelet's events (a crash loop's
Pulled/Created/Started/BackOff cycle stays four events). Decides nothing else.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kubeplay.state.db import Database


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event about an object (or, for a pod, one of its containers, by field_path such as
    `spec.containers{web}`)."""

    id: int
    uid: str
    type: str  # Normal | Warning
    reason: str
    message: str
    field_path: str
    first_at: float
    last_at: float
    count: int = 1
    kind: str = "Pod"
    namespace: str = ""
    name: str = ""

    @property
    def pod_uid(self) -> str:
        """The involved object's uid (events of pods read it by this name)."""
        return self.uid


class EventsTable(Database):
    def add_event(
        self,
        uid: str,
        *,
        type: str,
        reason: str,
        message: str,
        field_path: str = "",
        at: float,
        kind: str = "Pod",
        namespace: str = "",
        name: str = "",
    ) -> EventRecord:
        """Record an event about object `uid`; a repeat is counted, not duplicated. A pod's
        namespace and name are looked up when not given (sqlite3.IntegrityError when the object
        is gone, as a foreign key would)."""
        with self.transaction() as db:
            if not name:
                row = db.execute(
                    "SELECT namespace, name FROM objects WHERE uid = ?", (uid,)
                ).fetchone()
                if row is None:
                    row = db.execute(
                        "SELECT namespace, name FROM pods WHERE uid = ?", (uid,)
                    ).fetchone()
                if row is None:  # as the foreign key of version 1 refused it
                    raise sqlite3.IntegrityError(f"event about {uid}: no such object")
                namespace, name = row["namespace"], row["name"]
            last = db.execute(
                "SELECT * FROM events WHERE uid = ? AND type = ? AND reason = ? "
                "AND message = ? AND field_path = ? ORDER BY id DESC LIMIT 1",
                (uid, type, reason, message, field_path),
            ).fetchone()
            if last is not None:
                db.execute(
                    "UPDATE events SET count = count + 1, last_at = ? WHERE id = ?",
                    (at, last["id"]),
                )
                event_id = last["id"]
            else:
                cur = db.execute(
                    "INSERT INTO events (uid, kind, namespace, name, type, reason, message, "
                    "field_path, first_at, last_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (uid, kind, namespace, name, type, reason, message, field_path, at, at),
                )
                event_id = cur.lastrowid
            row = db.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return _event(row)

    def list_events(self, uid: str | None = None) -> list[EventRecord]:
        """Events in the order they were first recorded, of one object or of all."""
        with self._lock:
            if uid is None:
                rows = self._db.execute("SELECT * FROM events ORDER BY id").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM events WHERE uid = ? ORDER BY id", (uid,)
                ).fetchall()
        return [_event(r) for r in rows]


def _event(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        id=row["id"],
        uid=row["uid"],
        type=row["type"],
        reason=row["reason"],
        message=row["message"],
        field_path=row["field_path"],
        first_at=row["first_at"],
        last_at=row["last_at"],
        count=row["count"],
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
    )
