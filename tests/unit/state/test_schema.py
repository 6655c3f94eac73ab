"""state.schema: a version-1 database migrates to version 2 in one transaction; a newer one
is refused; the `objects` table holds every kind by identity."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplay.errors import AlreadyExistsError, SchemaVersionError
from kubeplay.state import schema
from kubeplay.state.store import ObjectRecord, SqliteStore


def _v1_database(path: Path) -> None:
    """A database as kubeplay wrote schema version 1: a played pod with an event, a
    Deployment, a ConfigMap and a claim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(path)
    with raw:
        for stmt in schema.SCHEMA_V1.split(";"):
            if stmt.strip():
                raw.execute(stmt)
        raw.execute("INSERT INTO meta (id, schema_version) VALUES (1, 1)")
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-abc",
                "ownerReferences": [{"kind": "ReplicaSet", "uid": "rs-1", "controller": True}],
            },
        }
        raw.execute(
            "INSERT INTO pods (uid, namespace, name, source, manifest_json, plan_json, "
            "created_at, pod_ip) VALUES ('p-1', 'default', 'web-abc', 'app.yaml', ?, '{}', 5.0, "
            "'10.88.0.2')",
            (json.dumps(pod),),
        )
        raw.execute(
            "INSERT INTO containers (pod_uid, name, kind, restart_count) "
            "VALUES ('p-1', 'app', 'app', 3)"
        )
        raw.execute(
            "INSERT INTO events (pod_uid, type, reason, message, first_at, last_at, count) "
            "VALUES ('p-1', 'Normal', 'Started', 'Started container app', 6.0, 7.0, 2)"
        )
        raw.execute(
            "INSERT INTO workloads (uid, namespace, kind, name, source, manifest_json, "
            "created_at) VALUES ('d-1', 'default', 'Deployment', 'web', 'app.yaml', ?, 5.0)",
            (json.dumps({"apiVersion": "apps/v1", "kind": "Deployment"}),),
        )
        raw.execute(
            "INSERT INTO objects (kind, namespace, name, uid, source, body_json, created_at, "
            "updated_at) VALUES ('ConfigMap', 'default', 'cfg', 'c-1', 'cm.yaml', ?, 1.0, 2.0)",
            (json.dumps({"kind": "ConfigMap", "data": {"a": "1"}}),),
        )
        raw.execute(
            "INSERT INTO volumes (name, created_at, namespace, source, claim_json) "
            "VALUES ('data', 3.0, 'default', 'pvc.yaml', ?)",
            (json.dumps({"kind": "PersistentVolumeClaim", "metadata": {"uid": "v-1"}}),),
        )
    raw.close()


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[SqliteStore]:
    path = tmp_path / "state.db"
    _v1_database(path)
    store = SqliteStore(path)
    yield store
    store.close()


def test_version_1_is_migrated_to_the_current_version(migrated: SqliteStore) -> None:
    rows = migrated.list_records()
    assert [(r.api_group, r.kind, r.namespace, r.name, r.uid) for r in rows] == [
        ("", "ConfigMap", "default", "cfg", "c-1"),
        ("apps", "Deployment", "default", "web", "d-1"),
        ("", "PersistentVolumeClaim", "default", "data", "v-1"),
        ("", "Pod", "default", "web-abc", "p-1"),
    ]
    assert {r.source for r in rows} == {"play"}
    assert {r.origin for r in rows} == {"cm.yaml", "app.yaml", "pvc.yaml"}
    assert all(r.last_applied_sha256 == schema.sha256_of(r.body) for r in rows)
    pod = migrated.get_record_by_uid("p-1")
    assert pod is not None
    assert pod.owner_uid == "rs-1"


def test_migration_keeps_runtime_rows_and_events(migrated: SqliteStore) -> None:
    pod = migrated.get_pod_by_uid("p-1")
    assert pod is not None
    assert (pod.pod_ip, [c.restart_count for c in pod.containers]) == ("10.88.0.2", [3])
    events = migrated.list_events("p-1")
    assert [(e.kind, e.namespace, e.name, e.reason, e.count) for e in events] == [
        ("Pod", "default", "web-abc", "Started", 2)
    ]
    assert migrated.get_volume("data") is not None
    obj = migrated.get_object("ConfigMap", "default", "cfg")
    assert obj is not None
    assert (obj.source, obj.body["data"]) == ("cm.yaml", {"a": "1"})


def test_migrated_database_records_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _v1_database(path)
    SqliteStore(path).close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT schema_version FROM meta").fetchall() == [
            (schema.SCHEMA_VERSION,)
        ]
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "workloads" not in tables
    finally:
        raw.close()


def test_failed_migration_changes_nothing(tmp_path: Path) -> None:
    """One transaction: a version-1 database the migration cannot read stays version 1."""
    path = tmp_path / "state.db"
    _v1_database(path)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE workloads SET manifest_json = 'not json'")
    raw.close()
    with pytest.raises(json.JSONDecodeError):
        SqliteStore(path)
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT schema_version FROM meta").fetchall() == [(1,)]
        assert raw.execute("SELECT count(*) FROM workloads").fetchall() == [(1,)]
    finally:
        raw.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET schema_version = ?", (schema.SCHEMA_VERSION + 1,))
    raw.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        SqliteStore(path)


def _rec(kind: str, name: str, uid: str, *, group: str = "", **extra: object) -> ObjectRecord:
    body = {"kind": kind, "metadata": {"name": name}}
    return ObjectRecord(
        uid=uid,
        api_group=group,
        kind=kind,
        namespace="default",
        name=name,
        body=body,
        last_applied=body,
        created_at=1.0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.db")
    yield s
    s.close()


def test_records_of_every_kind_share_one_table(store: SqliteStore) -> None:
    store.put_records(
        [
            _rec("ServiceAccount", "app", "u1"),
            _rec("Deployment", "app", "u2", group="apps", source="apply:x"),
            _rec("Role", "system:kube-scheduler", "u3", group="rbac.authorization.k8s.io"),
        ]
    )
    assert [r.kind for r in store.list_records()] == ["Deployment", "Role", "ServiceAccount"]
    assert [r.uid for r in store.list_records(source="apply:x")] == ["u2"]
    got = store.get_record("rbac.authorization.k8s.io", "Role", "default", "system:kube-scheduler")
    assert got is not None
    assert got.uid == "u3"


def test_identity_is_unique_across_uids(store: SqliteStore) -> None:
    store.put_records([_rec("ServiceAccount", "app", "u1")])
    with pytest.raises(AlreadyExistsError, match="serviceaccount default/app"):
        store.put_records(
            [_rec("ServiceAccount", "web", "u9"), _rec("ServiceAccount", "app", "u2")]
        )
    assert [r.name for r in store.list_records()] == ["app"]  # the batch rolled back


def test_update_by_uid_keeps_creation(store: SqliteStore) -> None:
    store.put_records([_rec("ConfigMap", "cfg", "u1")])
    store.put_records([_rec("ConfigMap", "cfg", "u1", generation=2, updated_at=9.0)])
    got = store.get_record("", "ConfigMap", "default", "cfg")
    assert got is not None
    assert (got.generation, got.created_at, got.updated_at) == (2, 1.0, 9.0)


def test_batch_is_all_or_nothing(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError), store.batch():
        store.put_records([_rec("ConfigMap", "a", "u1")])
        store.put_records([_rec("ConfigMap", "b", "u2")])
        raise RuntimeError("a later step failed")
    assert store.list_records() == []


def test_events_of_any_kind(store: SqliteStore) -> None:
    store.put_records([_rec("ConfigMap", "cfg", "u1")])
    store.add_event(
        "u1", type="Normal", reason="Applied", message="created", at=1.0, kind="ConfigMap"
    )
    assert [(e.kind, e.name, e.reason) for e in store.list_events("u1")] == [
        ("ConfigMap", "cfg", "Applied")
    ]
    store.delete_records(["u1"])
    assert store.list_events() == []
