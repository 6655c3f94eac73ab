"""state.store: the probe_state table (published readiness/startup per container instance)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplay.state.store import PodRecord, ProbeStateRecord, SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.db")
    s.add_pods(
        [
            PodRecord(
                uid="u1",
                namespace="default",
                name="web",
                source="pod.yaml",
                manifest={},
                plan_json="{}",
                created_at=1.0,
            )
        ]
    )
    yield s
    s.close()


def _rec(**kw: object) -> ProbeStateRecord:
    base: dict[str, object] = {
        "pod_uid": "u1",
        "name": "app",
        "container_id": "c1",
        "readiness": None,
        "startup": None,
        "updated_at": 5.0,
    }
    return ProbeStateRecord(**{**base, **kw})  # type: ignore[arg-type]


def test_probe_state_round_trip_keeps_unknown_true_and_false(store: SqliteStore) -> None:
    assert store.put_probe_state(_rec(readiness=False, startup=None))
    assert store.get_probe_states("u1") == {"app": _rec(readiness=False, startup=None)}
    assert store.put_probe_state(_rec(readiness=True, startup=True, updated_at=6.0))
    assert store.get_probe_states("u1") == {
        "app": _rec(readiness=True, startup=True, updated_at=6.0)
    }


def test_new_container_id_replaces_the_row(store: SqliteStore) -> None:
    store.put_probe_state(_rec(readiness=True))
    store.put_probe_state(_rec(container_id="c2", readiness=False))
    assert store.get_probe_states("u1")["app"].container_id == "c2"


def test_probe_state_of_a_removed_pod_is_not_written(store: SqliteStore) -> None:
    assert not store.put_probe_state(_rec(pod_uid="gone"))
    assert store.get_probe_states("gone") == {}


def test_probe_state_goes_with_its_pod(store: SqliteStore) -> None:
    store.put_probe_state(_rec(readiness=True))
    store.delete_pod("u1")
    assert store.get_probe_states("u1") == {}


def test_probe_state_table_is_added_to_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE probe_state")
    raw.close()
    again = SqliteStore(path)
    try:
        assert again.get_probe_states("u1") == {}
    finally:
        again.close()
