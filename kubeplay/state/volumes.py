"""The `volumes` table: named volumes (a persistentVolumeClaim's data directory), made by a
claim in the input or by first use from a pod. Decides nothing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from kubeplay.state.db import Database


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    """A named volume (persistentVolumeClaim): made by a PVC object in the input (`source`
    names its file, `claim` is the object) or by first use from a pod (`source` empty)."""

    name: str
    created_at: float
    namespace: str = ""
    source: str = ""
    claim: dict[str, Any] | None = None


class VolumesTable(Database):
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


def _volume(row: sqlite3.Row) -> VolumeRecord:
    claim = row["claim_json"]
    return VolumeRecord(
        name=row["name"],
        created_at=row["created_at"],
        namespace=row["namespace"],
        source=row["source"],
        claim=json.loads(claim) if claim else None,
    )
