"""The state database's schema: the DDL of each version and the migrations between them.

Version 2 keeps one `objects` row per object of every kind (identity: API group, kind,
namespace, name; uid primary key), the desired state, apart from the runtime tables of pods
(`pods`, `containers`, `probe_state`, `pod_failures`, linked by uid) and of named volumes.
Events are keyed by the object they are about (uid, kind, namespace, name), so any kind can
have events. A database of an older version is migrated in one transaction on open; a newer
one is refused. This module only knows SQL: it decides nothing about objects.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from kubeplay.errors import SchemaVersionError

SCHEMA_VERSION = 2

# Version 1, as kubeplay 0.x wrote it: kept to migrate from (and for the migration's test).
SCHEMA_V1 = """
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
CREATE TABLE IF NOT EXISTS pod_failures (
    pod_uid TEXT PRIMARY KEY REFERENCES pods(uid) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    at REAL NOT NULL
);
"""

_OBJECTS_V2 = """
CREATE TABLE IF NOT EXISTS objects (
    uid TEXT PRIMARY KEY,
    api_group TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    content_hash TEXT NOT NULL DEFAULT '',
    owner_uid TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT '',
    last_applied_json TEXT,
    last_applied_sha256 TEXT NOT NULL DEFAULT '',
    body_json TEXT NOT NULL,
    deleting_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (api_group, kind, namespace, name)
);
CREATE INDEX IF NOT EXISTS objects_by_source ON objects (source);
CREATE INDEX IF NOT EXISTS objects_by_owner ON objects (owner_uid);
"""

_EVENTS_V2 = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    field_path TEXT NOT NULL DEFAULT '',
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS events_by_object ON events (uid, id);
"""

# Runtime tables added during version 2 (made on open when missing).
_RUNTIME_V2 = """
CREATE TABLE IF NOT EXISTS pod_deletions (
    pod_uid TEXT PRIMARY KEY REFERENCES pods(uid) ON DELETE CASCADE,
    requested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS boot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    boot_id TEXT NOT NULL,
    at REAL NOT NULL
);
"""

# Watched sources (`kubeplay watch`), added during version 2 (made on open when missing).
_SOURCES_V2 = """
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    location TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    subpath TEXT NOT NULL DEFAULT '',
    recursive INTEGER NOT NULL DEFAULT 0,
    interval_s REAL NOT NULL,
    prune INTEGER NOT NULL DEFAULT 1,
    allow_empty INTEGER NOT NULL DEFAULT 0,
    atomic INTEGER NOT NULL DEFAULT 0,
    self_heal INTEGER NOT NULL DEFAULT 1,
    force INTEGER NOT NULL DEFAULT 0,
    revision TEXT NOT NULL DEFAULT '',
    last_attempt REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'Pending',
    message TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS source_files (
    source TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
    relpath TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    last_good_sha256 TEXT NOT NULL DEFAULT '',
    last_good_text TEXT NOT NULL DEFAULT '',
    pending_sha256 TEXT,
    pending_since REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (source, relpath)
);
"""

# Version 2 from scratch: version 1's runtime tables, the new objects and events.
_REPLACED = frozenset({"events", "workloads", "objects"})


def _target(statement: str) -> str:
    """The table a `CREATE TABLE|INDEX IF NOT EXISTS` statement makes or indexes."""
    words = statement.split()
    return words[5] if words[1] == "TABLE" else words[7]


SCHEMA_V2 = (
    "".join(
        stmt + ";\n"
        for stmt in SCHEMA_V1.split(";")
        if stmt.strip() and _target(stmt) not in _REPLACED
    )
    + _OBJECTS_V2
    + _EVENTS_V2
    + _RUNTIME_V2
    + _SOURCES_V2
)

# Columns added to a table after databases with it existed: (table, column, definition).
ADDED_COLUMNS = (
    ("containers", "spec_hash", "TEXT NOT NULL DEFAULT ''"),
    ("containers", "pid_start", "INTEGER"),
    ("containers", "image_id", "TEXT NOT NULL DEFAULT ''"),
    ("containers", "stop_signal", "TEXT NOT NULL DEFAULT ''"),
    ("containers", "termination_json", "TEXT"),
)

TABLES = frozenset(
    line.split()[5] for line in SCHEMA_V2.splitlines() if line.startswith("CREATE TABLE")
)


def sha256_of(body: Any) -> str:
    """SHA-256 of a body as canonical JSON (sorted keys, no spaces): the manifest hash."""
    import hashlib  # only writes hash (OpenSSL's start-up costs every reading command ~7 ms)

    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _run(db: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def version_of(db: sqlite3.Connection) -> int | None:
    """The database's schema version; None for an empty database."""
    row = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if row is None:
        return None
    version = db.execute("SELECT schema_version FROM meta").fetchone()
    return None if version is None else int(version[0])


def is_current(db: sqlite3.Connection) -> bool:
    """The cheap check on every open: the current version with every table present."""
    if version_of(db) != SCHEMA_VERSION:
        return False
    rows = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    return TABLES.issubset(r[0] for r in rows) and all(
        column in _columns(db, table) for table, column, _ in ADDED_COLUMNS
    )


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


def _add_columns(db: sqlite3.Connection) -> None:
    for table, column, ddl in ADDED_COLUMNS:
        if column not in _columns(db, table):
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")


def check_version(db: sqlite3.Connection) -> None:
    version = version_of(db)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"state database schema {version} is newer than this kubeplay "
            f"({SCHEMA_VERSION}): upgrade kubeplay"
        )


def migrate(db: sqlite3.Connection) -> None:
    """Bring the database to SCHEMA_VERSION inside the caller's transaction: create it, or
    migrate it step by step; tables added since a version was written are made first."""
    version = version_of(db)
    if version is None:
        _run(db, SCHEMA_V2)
        _add_columns(db)
        db.execute(
            "INSERT OR REPLACE INTO meta (id, schema_version) VALUES (1, ?)", (SCHEMA_VERSION,)
        )
        return
    if version <= 1:
        _run(db, SCHEMA_V1)
        migrate_1_to_2(db)
    _run(db, SCHEMA_V2)  # tables added later at this version
    _add_columns(db)
    db.execute("UPDATE meta SET schema_version = ?", (SCHEMA_VERSION,))


def _controller_uid(body: dict[str, Any]) -> str:
    for ref in (body.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


_GROUPS = {"Deployment": "apps", "ReplicaSet": "apps", "StatefulSet": "apps", "DaemonSet": "apps"}


def migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Version 1 -> 2: pods, workloads, ConfigMaps/Secrets and claims become `objects` rows
    (made by `play`, their file as origin); events get their involved object's identity."""
    rows: list[tuple[Any, ...]] = []

    def add(
        uid: str,
        kind: str,
        namespace: str,
        name: str,
        body: dict[str, Any],
        origin: str,
        created: float,
        updated: float,
    ) -> None:
        text = json.dumps(body)
        digest = sha256_of(body)
        rows.append(
            (
                uid,
                _GROUPS.get(kind, ""),
                kind,
                namespace,
                name,
                digest,
                _controller_uid(body),
                "play",
                origin,
                text,
                digest,
                text,
                created,
                updated,
            )
        )

    for r in db.execute("SELECT * FROM objects").fetchall():
        add(
            r["uid"],
            r["kind"],
            r["namespace"],
            r["name"],
            json.loads(r["body_json"]),
            r["source"],
            r["created_at"],
            r["updated_at"],
        )
    for r in db.execute("SELECT * FROM workloads").fetchall():
        body = json.loads(r["manifest_json"])
        add(
            r["uid"],
            r["kind"],
            r["namespace"],
            r["name"],
            body,
            r["source"],
            *[r["created_at"]] * 2,
        )
    for r in db.execute("SELECT * FROM pods").fetchall():
        body = json.loads(r["manifest_json"])
        add(r["uid"], "Pod", r["namespace"], r["name"], body, r["source"], *[r["created_at"]] * 2)
    for r in db.execute("SELECT * FROM volumes WHERE claim_json IS NOT NULL").fetchall():
        claim = json.loads(r["claim_json"])
        uid = str((claim.get("metadata") or {}).get("uid") or _new_uid())
        namespace = r["namespace"] or "default"
        add(
            uid,
            "PersistentVolumeClaim",
            namespace,
            r["name"],
            claim,
            r["source"],
            *[r["created_at"]] * 2,
        )
    db.execute("DROP TABLE objects")
    db.execute("DROP TABLE workloads")
    _run(db, _OBJECTS_V2)
    db.executemany(
        "INSERT INTO objects (uid, api_group, kind, namespace, name, content_hash, owner_uid, "
        "source, origin, last_applied_json, last_applied_sha256, body_json, created_at, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.execute("ALTER TABLE events RENAME TO events_v1")
    db.execute("DROP INDEX IF EXISTS events_by_pod")
    _run(db, _EVENTS_V2)
    db.execute(
        "INSERT INTO events (id, uid, kind, namespace, name, type, reason, message, field_path, "
        "first_at, last_at, count) SELECT e.id, e.pod_uid, 'Pod', p.namespace, p.name, e.type, "
        "e.reason, e.message, e.field_path, e.first_at, e.last_at, e.count "
        "FROM events_v1 e JOIN pods p ON p.uid = e.pod_uid ORDER BY e.id"
    )
    db.execute("DROP TABLE events_v1")


def _new_uid() -> str:
    """A random (version 4) uid; uuid is imported here, as it imports platform, which the
    supervisor and `get pods` would load for nothing."""
    import uuid

    return str(uuid.uuid4())
