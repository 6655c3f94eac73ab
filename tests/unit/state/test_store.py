"""SqliteStore: pods written in one transaction, containers upserted, schema version checked.

Each test uses its own database file under tmp_path (WAL needs a file, not :memory:).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kubeplay.errors import AlreadyExistsError, SchemaVersionError, StateError
from kubeplay.state import schema as schema_mod
from kubeplay.state import store as store_mod
from kubeplay.state.store import ContainerRecord, PodRecord, SqliteStore, StoredObject


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "kubeplay.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(db_path)
    yield s
    s.close()


def _pod(name: str, namespace: str = "default", uid: str | None = None) -> PodRecord:
    return PodRecord(
        uid=uid or f"uid-{namespace}-{name}",
        namespace=namespace,
        name=name,
        source="pod.yaml",
        manifest={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}},
        plan_json='{"plan": true}',
        created_at=1_700_000_000.5,
    )


def _names(store: SqliteStore, namespace: str | None = None) -> list[tuple[str, str]]:
    return [(p.namespace, p.name) for p in store.list_pods(namespace)]


# --- pods ----------------------------------------------------------------------------------


def test_add_pods_round_trip(store: SqliteStore) -> None:
    pod = _pod("web")
    store.add_pods([pod])
    assert store.get_pod("default", "web") == pod
    assert store.get_pod_by_uid(pod.uid) == pod
    assert store.get_pod("default", "other") is None
    assert store.get_pod_by_uid("nope") is None


def test_add_pods_writes_all(store: SqliteStore) -> None:
    store.add_pods([_pod("a"), _pod("b"), _pod("a", namespace="prod")])
    assert _names(store) == [("default", "a"), ("default", "b"), ("prod", "a")]


@pytest.mark.parametrize(
    ("existing", "batch"),
    [
        pytest.param(
            [_pod("a")],
            [_pod("b"), _pod("a", uid="uid-new")],
            id="clash-with-stored-pod",
        ),
        pytest.param([], [_pod("b"), _pod("a"), _pod("a", uid="uid-2")], id="clash-inside-batch"),
        pytest.param([_pod("a")], [_pod("b"), _pod("z", uid=_pod("a").uid)], id="uid-clash"),
    ],
)
def test_add_pods_clash_rolls_back_the_whole_batch(
    store: SqliteStore, existing: list[PodRecord], batch: list[PodRecord]
) -> None:
    store.add_pods(existing)
    with pytest.raises(AlreadyExistsError):
        store.add_pods(batch)
    assert _names(store) == [(p.namespace, p.name) for p in existing]


def test_already_exists_names_the_pod(store: SqliteStore) -> None:
    store.add_pods([_pod("web", namespace="prod")])
    with pytest.raises(AlreadyExistsError, match=r"^pod prod/web: already exists"):
        store.add_pods([_pod("web", namespace="prod", uid="other")])


def test_store_usable_after_rollback(store: SqliteStore) -> None:
    store.add_pods([_pod("a")])
    with pytest.raises(AlreadyExistsError):
        store.add_pods([_pod("a", uid="x")])
    store.add_pods([_pod("b")])
    assert _names(store) == [("default", "a"), ("default", "b")]


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        pytest.param(None, [("default", "a"), ("default", "b"), ("kube", "c")], id="all"),
        pytest.param("default", [("default", "a"), ("default", "b")], id="one-namespace"),
        pytest.param("kube", [("kube", "c")], id="other-namespace"),
        pytest.param("empty", [], id="unknown-namespace"),
    ],
)
def test_list_pods_by_namespace(
    store: SqliteStore, namespace: str | None, expected: list[tuple[str, str]]
) -> None:
    store.add_pods([_pod("b"), _pod("c", namespace="kube"), _pod("a")])
    assert _names(store, namespace) == expected


def test_update_pod(store: SqliteStore) -> None:
    pod = _pod("a")
    store.add_pods([pod, _pod("b")])
    store.update_pod(pod.uid, lifecycle="active", started_at=5.0, netns="/run/netns/x")
    store.update_pod(pod.uid, pod_ip="10.88.0.2")
    got = store.get_pod_by_uid(pod.uid)
    assert got == replace(
        pod, lifecycle="active", started_at=5.0, netns="/run/netns/x", pod_ip="10.88.0.2"
    )
    assert store.used_ips() == {"10.88.0.2"}


def test_mark_terminating_keeps_the_first_deletion_time(store: SqliteStore) -> None:
    pod = _pod("a")
    store.add_pods([pod, _pod("b")])
    store.mark_terminating(pod.uid, at=7.0)
    store.mark_terminating(pod.uid, at=9.0)  # a second down: still the first deletion's time
    assert store.get_pod_by_uid(pod.uid) == replace(pod, lifecycle="terminating", deleting_at=7.0)
    assert store.get_pod("default", "b") == _pod("b")
    store.delete_pod(pod.uid)
    store.mark_terminating(pod.uid, at=9.0)  # gone: nothing to mark
    assert store.get_pod_by_uid(pod.uid) is None


def test_add_pods_guard_sees_stored_pods_and_aborts_the_insert(store: SqliteStore) -> None:
    store.add_pods([_pod("a")])
    seen: list[list[str]] = []

    def guard(stored: list[PodRecord]) -> None:
        seen.append([p.name for p in stored])
        raise StateError("hostPort taken")

    with pytest.raises(StateError, match="hostPort taken"):
        store.add_pods([_pod("b")], guard=guard)
    assert seen == [["a"]]
    assert _names(store) == [("default", "a")]


def test_database_is_private(db_path: Path, store: SqliteStore) -> None:
    store.add_pods([_pod("a")])
    for path in db_path.parent.iterdir():
        if path.name.startswith(db_path.name):
            assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_second_open_in_one_process_keeps_the_first_connections_lock(
    db_path: Path, store: SqliteStore
) -> None:
    """Closing any descriptor of the database drops the process's POSIX locks, SQLite's
    shared lock included: another process closing its connection then takes the WAL away
    from under a long-lived one (the supervisor opens the database more than once)."""
    import subprocess
    import sys

    store.add_pods([_pod("a")])
    SqliteStore(db_path).close()  # a second Host in this process, opened and closed
    script = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
        "db.execute('SELECT 1 FROM pods').fetchall(); db.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(db_path)], check=True)
    assert db_path.with_name(db_path.name + "-wal").exists()
    store.add_pods([_pod("b")])
    assert _names(store) == [("default", "a"), ("default", "b")]


def test_update_pod_refuses_unknown_columns(store: SqliteStore) -> None:
    store.add_pods([_pod("a")])
    with pytest.raises(ValueError, match="namespace"):
        store.update_pod(_pod("a").uid, namespace="other")
    assert _names(store) == [("default", "a")]


# --- containers ----------------------------------------------------------------------------


def test_put_container_inserts_then_upserts(store: SqliteStore) -> None:
    pod = _pod("a")
    store.add_pods([pod])
    first = ContainerRecord(pod_uid=pod.uid, name="app", kind="app")
    store.put_container(first)
    assert store.get_pod_by_uid(pod.uid).containers == (first,)  # type: ignore[union-attr]
    second = replace(
        first,
        container_id="c1",
        pid=4242,
        restart_count=3,
        created_at=1.0,
        started_at=2.0,
        log_path="/logs/app/3.log",
        waiting_reason="",
        last_termination={"exit_code": 1, "started_at": 1.0, "finished_at": 2.0},
    )
    store.put_container(second)
    assert store.get_pod_by_uid(pod.uid).containers == (second,)  # type: ignore[union-attr]


def test_containers_keep_insertion_order_per_pod(store: SqliteStore) -> None:
    a, b = _pod("a"), _pod("b")
    store.add_pods([a, b])
    for pod_uid, name in [(a.uid, "infra"), (b.uid, "x"), (a.uid, "init"), (a.uid, "app")]:
        store.put_container(ContainerRecord(pod_uid=pod_uid, name=name, kind="app"))
    got = store.get_pod_by_uid(a.uid)
    assert got is not None
    assert [c.name for c in got.containers] == ["infra", "init", "app"]
    got_b = store.get_pod_by_uid(b.uid)
    assert got_b is not None
    assert [c.name for c in got_b.containers] == ["x"]


def test_put_container_needs_its_pod(store: SqliteStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.put_container(ContainerRecord(pod_uid="missing", name="app", kind="app"))


def test_delete_pod_cascades_to_containers(store: SqliteStore) -> None:
    pod = _pod("a")
    store.add_pods([pod, _pod("b")])
    store.put_container(ContainerRecord(pod_uid=pod.uid, name="app", kind="app"))
    store.delete_pod(pod.uid)
    assert _names(store) == [("default", "b")]
    store.add_pods([pod])  # same uid again: no container row left behind
    got = store.get_pod_by_uid(pod.uid)
    assert got is not None
    assert got.containers == ()


# --- schema --------------------------------------------------------------------------------


def test_reopen_keeps_data(db_path: Path) -> None:
    first = SqliteStore(db_path)
    first.add_pods([_pod("a")])
    first.close()
    again = SqliteStore(db_path)
    try:
        assert _names(again) == [("default", "a")]
    finally:
        again.close()


def test_newer_schema_is_refused(db_path: Path) -> None:
    SqliteStore(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE meta SET schema_version = ?", (store_mod.SCHEMA_VERSION + 1,))
    raw.close()
    with pytest.raises(SchemaVersionError, match="newer") as info:
        SqliteStore(db_path)
    assert isinstance(info.value, StateError)


def test_current_schema_version_recorded(db_path: Path) -> None:
    SqliteStore(db_path).close()
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT schema_version FROM meta").fetchall() == [
            (store_mod.SCHEMA_VERSION,)
        ]
    finally:
        raw.close()


def test_columns_added_later_are_added_on_open_keeping_the_rows(db_path: Path) -> None:
    """A database made before containers had spec_hash: the column is added, rows stay."""
    first = SqliteStore(db_path)
    first.add_pods([_pod("a")])
    first.put_container(ContainerRecord(pod_uid=_pod("a").uid, name="app", kind="app"))
    first.close()
    with sqlite3.connect(db_path) as raw:
        raw.execute("ALTER TABLE containers DROP COLUMN spec_hash")
    raw.close()
    again = SqliteStore(db_path)
    try:
        (row,) = again.get_pod("default", "a").containers  # type: ignore[union-attr]
        assert row.spec_hash == ""
        again.put_container(replace(row, spec_hash="abc"))
        (row,) = again.get_pod("default", "a").containers  # type: ignore[union-attr]
        assert row.spec_hash == "abc"
    finally:
        again.close()


def test_tables_added_later_are_created_on_open(db_path: Path) -> None:
    SqliteStore(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TABLE events")
    raw.close()
    again = SqliteStore(db_path)
    try:
        again.add_pods([_pod("a")])
        again.add_event(_pod("a").uid, type="Normal", reason="Started", message="m", at=1.0)
        assert [e.reason for e in again.list_events()] == ["Started"]
    finally:
        again.close()


# --- events --------------------------------------------------------------------------------


def test_events_keep_their_order_per_pod(store: SqliteStore) -> None:
    store.add_pods([_pod("a"), _pod("b")])
    a, b = _pod("a").uid, _pod("b").uid
    store.add_event(a, type="Normal", reason="Scheduled", message="assigned", at=1.0)
    store.add_event(b, type="Normal", reason="Scheduled", message="assigned", at=2.0)
    store.add_event(
        a,
        type="Normal",
        reason="Started",
        message="started",
        field_path="spec.containers{x}",
        at=3.0,
    )
    assert [(e.reason, e.field_path) for e in store.list_events(a)] == [
        ("Scheduled", ""),
        ("Started", "spec.containers{x}"),
    ]
    assert [e.pod_uid for e in store.list_events()] == [a, b, a]


@pytest.mark.parametrize(
    ("second", "count"),
    [
        pytest.param(("Warning", "BackOff", "back-off", ""), 2, id="repeat-is-counted"),
        pytest.param(("Warning", "BackOff", "other", ""), 1, id="other-message-is-new"),
        pytest.param(("Normal", "BackOff", "back-off", ""), 1, id="other-type-is-new"),
        pytest.param(("Warning", "BackOff", "back-off", "spec.containers{x}"), 1, id="other-path"),
    ],
)
def test_repeated_event_is_aggregated(
    store: SqliteStore, second: tuple[str, str, str, str], count: int
) -> None:
    store.add_pods([_pod("a")])
    uid = _pod("a").uid
    store.add_event(uid, type="Warning", reason="BackOff", message="back-off", at=1.0)
    type_, reason, message, path = second
    got = store.add_event(uid, type=type_, reason=reason, message=message, field_path=path, at=5.0)
    assert got.count == count
    assert got.last_at == 5.0
    assert got.first_at == (1.0 if count == 2 else 5.0)
    assert len(store.list_events(uid)) == (1 if count == 2 else 2)


def test_repeat_after_other_events_is_aggregated(store: SqliteStore) -> None:
    """client-go's EventCorrelator keys on the event, not on what came just before."""
    store.add_pods([_pod("a")])
    uid = _pod("a").uid
    for at in (1.0, 2.0, 3.0):
        store.add_event(uid, type="Normal", reason="Started", message="Started container x", at=at)
        store.add_event(uid, type="Warning", reason="BackOff", message="back-off", at=at + 0.5)
    got = [(e.reason, e.count, e.first_at, e.last_at) for e in store.list_events(uid)]
    assert got == [("Started", 3, 1.0, 3.0), ("BackOff", 3, 1.5, 3.5)]


def test_events_go_with_their_pod(store: SqliteStore) -> None:
    store.add_pods([_pod("a")])
    store.add_event(_pod("a").uid, type="Normal", reason="Started", message="m", at=1.0)
    store.delete_pod(_pod("a").uid)
    assert store.list_events() == []


# --- objects (ConfigMaps, Secrets) ----------------------------------------------------------


def _obj(
    name: str, kind: str = "ConfigMap", namespace: str = "default", **data: str
) -> StoredObject:
    return StoredObject(
        kind=kind,
        namespace=namespace,
        name=name,
        source="cm.yaml",
        body={"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data},
        uid=f"uid-{kind}-{namespace}-{name}",
        created_at=10.0,
        updated_at=10.0,
    )


def test_put_objects_round_trip(store: SqliteStore) -> None:
    cm = _obj("settings", color="blue")
    store.put_objects([cm, _obj("settings", kind="Secret")])
    assert store.get_object("ConfigMap", "default", "settings") == cm
    assert store.get_object("ConfigMap", "other", "settings") is None
    assert store.get_object("Secret", "default", "settings") is not None


def test_put_objects_updates_in_place_keeping_uid_and_creation(store: SqliteStore) -> None:
    store.put_objects([_obj("settings", color="blue")])
    newer = replace(_obj("settings", color="red"), uid="another", created_at=20.0, updated_at=20.0)
    store.put_objects([newer])
    got = store.get_object("ConfigMap", "default", "settings")
    assert got is not None
    assert got.body["data"] == {"color": "red"}
    assert (got.uid, got.created_at, got.updated_at) == ("uid-ConfigMap-default-settings", 10, 20)


def test_put_objects_is_one_transaction(store: SqliteStore) -> None:
    bad = replace(_obj("b"), body={"not": {"json", "able"}})  # a set cannot be stored
    with pytest.raises(TypeError):
        store.put_objects([_obj("a"), bad])
    assert store.list_objects() == []


@pytest.mark.parametrize(
    ("kind", "namespace", "expected"),
    [
        pytest.param(
            None,
            None,
            [("ConfigMap", "default", "a"), ("ConfigMap", "prod", "a"), ("Secret", "default", "s")],
            id="all",
        ),
        pytest.param(
            "ConfigMap",
            None,
            [("ConfigMap", "default", "a"), ("ConfigMap", "prod", "a")],
            id="one-kind",
        ),
        pytest.param(
            None,
            "default",
            [("ConfigMap", "default", "a"), ("Secret", "default", "s")],
            id="one-namespace",
        ),
        pytest.param("Secret", "prod", [], id="kind-and-namespace"),
    ],
)
def test_list_objects(
    store: SqliteStore,
    kind: str | None,
    namespace: str | None,
    expected: list[tuple[str, str, str]],
) -> None:
    store.put_objects([_obj("s", kind="Secret"), _obj("a", namespace="prod"), _obj("a")])
    got = store.list_objects(kind, namespace)
    assert [(o.kind, o.namespace, o.name) for o in got] == expected


def test_delete_object(store: SqliteStore) -> None:
    store.put_objects([_obj("a"), _obj("a", kind="Secret")])
    assert store.delete_object("ConfigMap", "default", "a") is True
    assert store.delete_object("ConfigMap", "default", "a") is False
    assert [o.kind for o in store.list_objects()] == ["Secret"]


def _open_after(path: Path, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SqliteStore(path).close()
        results.put("ok")
    except sqlite3.Error as err:
        results.put(str(err))


def test_two_commands_creating_the_database_at_once_both_open_it(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(20):
        path = tmp_path / str(round_) / "state.db"
        path.parent.mkdir()
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_open_after, args=(path, barrier, results)) for _ in "ab"]
        for proc in procs:
            proc.start()
        got = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join()
        assert got == ["ok", "ok"], (round_, got)


# --- boots: pids are forgotten after a reboot ----------------------------------------------------


def test_a_new_boot_forgets_every_pid_and_keeps_the_rest(store: SqliteStore) -> None:
    pod = _pod("web")
    store.add_pods([pod])
    row = ContainerRecord(
        pod_uid=pod.uid, name="app", kind="app", container_id="c1", pid=42, pid_start=7,
        restart_count=3, log_path="/log",
    )  # fmt: skip
    store.put_container(row)
    assert store.start_boot("boot-1", at=1.0) is False, "the first boot recorded: nothing to do"
    assert store.start_boot("boot-1", at=2.0) is False
    assert store.get_pod_by_uid(pod.uid).containers == (row,)  # type: ignore[union-attr]
    assert store.start_boot("boot-2", at=3.0) is True
    got = store.get_pod_by_uid(pod.uid).containers  # type: ignore[union-attr]
    assert got == (replace(row, pid=0, pid_start=0),)
    assert store.start_boot("boot-2", at=4.0) is False


def test_a_database_without_pid_start_gets_the_column(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    old = sqlite3.connect(db_path)
    schema = schema_mod.SCHEMA_V1  # a version-1 database: no pid_start, no spec_hash
    assert "pid_start" not in schema
    old.executescript(schema)
    old.execute("INSERT INTO meta (id, schema_version) VALUES (1, 1)")
    old.commit()
    old.close()
    s = SqliteStore(db_path)
    try:
        pod = _pod("web")
        s.add_pods([pod])
        s.put_container(ContainerRecord(pod_uid=pod.uid, name="a", kind="app", pid=5, pid_start=9))
        assert s.get_pod_by_uid(pod.uid).containers[0].pid_start == 9  # type: ignore[union-attr]
    finally:
        s.close()
