"""The `sources` and `source_files` tables: watched sources (a directory or a git branch) and,
per file, what the last reconcile saw (its status, error, last good content, a removal waiting
to settle). A source's objects are the `objects` rows whose `source` is `source:NAME`; its
events are keyed by the uid `source:NAME`. Decides nothing: `plan.sources` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from kubeplay.state.db import Database


@dataclass(frozen=True, slots=True)
class SourceRecord:
    name: str
    type: str  # dir | git
    location: str  # the directory (absolute) or the git URL
    ref: str = ""  # git: branch, tag or commit
    subpath: str = ""  # git: the directory inside the repository
    recursive: bool = False
    interval_s: float = 20.0
    prune: bool = True
    allow_empty: bool = False
    atomic: bool = False  # one invalid file holds the whole revision (Flux's behaviour)
    self_heal: bool = True  # the relist repairs drift (else only a new revision applies)
    force: bool = False  # immutable changes recreate the object
    revision: str = ""  # what was last applied (commit SHA, or the directory's digest)
    last_attempt: float = 0.0
    status: str = "Pending"  # Pending | Ready | Held | Failed
    message: str = ""
    failures: int = 0  # consecutive failed reconciles (the retry back-off)
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SourceFileRecord:
    source: str
    relpath: str
    sha256: str = ""
    status: str = "Applied"
    error: str = ""
    last_good_sha256: str = ""
    last_good_text: str = ""
    pending_sha256: str | None = None
    pending_since: float = 0.0


_SOURCE_COLUMNS = (
    "name, type, location, ref, subpath, recursive, interval_s, prune, allow_empty, atomic, "
    "self_heal, force, revision, last_attempt, status, message, failures, created_at"
)
_FILE_COLUMNS = (
    "source, relpath, sha256, status, error, last_good_sha256, last_good_text, pending_sha256, "
    "pending_since"
)


def _source(row: sqlite3.Row) -> SourceRecord:
    return SourceRecord(
        name=row["name"],
        type=row["type"],
        location=row["location"],
        ref=row["ref"],
        subpath=row["subpath"],
        recursive=bool(row["recursive"]),
        interval_s=row["interval_s"],
        prune=bool(row["prune"]),
        allow_empty=bool(row["allow_empty"]),
        atomic=bool(row["atomic"]),
        self_heal=bool(row["self_heal"]),
        force=bool(row["force"]),
        revision=row["revision"],
        last_attempt=row["last_attempt"],
        status=row["status"],
        message=row["message"],
        failures=row["failures"],
        created_at=row["created_at"],
    )


def _file(row: sqlite3.Row) -> SourceFileRecord:
    return SourceFileRecord(
        source=row["source"],
        relpath=row["relpath"],
        sha256=row["sha256"],
        status=row["status"],
        error=row["error"],
        last_good_sha256=row["last_good_sha256"],
        last_good_text=row["last_good_text"],
        pending_sha256=row["pending_sha256"],
        pending_since=row["pending_since"],
    )


class SourcesTable(Database):
    def add_source(self, rec: SourceRecord) -> bool:
        """Register a source; False when one of that name exists (nothing changed)."""
        with self.transaction() as db:
            cur = db.execute(
                f"INSERT OR IGNORE INTO sources ({_SOURCE_COLUMNS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec.name,
                    rec.type,
                    rec.location,
                    rec.ref,
                    rec.subpath,
                    int(rec.recursive),
                    rec.interval_s,
                    int(rec.prune),
                    int(rec.allow_empty),
                    int(rec.atomic),
                    int(rec.self_heal),
                    int(rec.force),
                    rec.revision,
                    rec.last_attempt,
                    rec.status,
                    rec.message,
                    rec.failures,
                    rec.created_at,
                ),
            )
            return cur.rowcount > 0

    def get_source(self, name: str) -> SourceRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        return _source(row) if row is not None else None

    def list_sources(self) -> list[SourceRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM sources ORDER BY name").fetchall()
        return [_source(r) for r in rows]

    def has_sources(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM sources LIMIT 1").fetchone() is not None

    def set_source_status(
        self,
        name: str,
        *,
        status: str,
        message: str,
        at: float,
        failures: int,
        revision: str | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET status = ?, message = ?, last_attempt = ?, failures = ?, "
                "revision = COALESCE(?, revision) WHERE name = ?",
                (status, message, at, failures, revision, name),
            )

    def delete_source(self, name: str) -> bool:
        """Forget a source and its files (its objects stay: the caller prunes them or not)."""
        with self.transaction() as db:
            db.execute("DELETE FROM source_files WHERE source = ?", (name,))
            db.execute("DELETE FROM events WHERE uid = ?", (f"source:{name}",))
            return db.execute("DELETE FROM sources WHERE name = ?", (name,)).rowcount > 0

    def list_source_files(self, source: str) -> list[SourceFileRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM source_files WHERE source = ? ORDER BY relpath", (source,)
            ).fetchall()
        return [_file(r) for r in rows]

    def put_source_files(self, source: str, files: Sequence[SourceFileRecord]) -> None:
        """Replace the source's files with `files` in one transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM source_files WHERE source = ?", (source,))
            db.executemany(
                f"INSERT INTO source_files ({_FILE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        source,
                        f.relpath,
                        f.sha256,
                        f.status,
                        f.error,
                        f.last_good_sha256,
                        f.last_good_text,
                        f.pending_sha256,
                        f.pending_since,
                    )
                    for f in files
                ],
            )
