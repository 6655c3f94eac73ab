"""The apply path over a real SqliteStore, no root: an unchanged apply of 50 pods makes no
runtime call (a counting wrapper around the runtime and image adapters), and the engine's
write keeps uid, creation and generation, and rolls back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import apply as engine_apply
from kubeplay.engine import host as host_mod
from kubeplay.kube.objects import KubeObject
from kubeplay.plan import apply as plan_apply
from kubeplay.plan.apply import ApplyMode
from kubeplay.services import apply as apply_svc
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord, SqliteStore


def _pod(name: str, image: str = "localhost/app:1") -> KubeObject:
    return KubeObject(
        body={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
        source="pods.yaml",
    )


class Counting:
    """Stands for an adapter: counts every attribute used, does nothing."""

    def __init__(self, calls: list[str], name: str) -> None:
        self._calls = calls
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        self._calls.append(f"{self._name}.{attr}")
        return lambda *a, **k: None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path / "root", runroot=tmp_path / "run")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    monkeypatch.setattr(host_mod.Host, "runtime", property(lambda _: Counting(made, "runtime")))
    monkeypatch.setattr(host_mod.Host, "images", property(lambda _: Counting(made, "images")))
    monkeypatch.setattr(host_mod, "require_runtime", lambda _host: made.append("require"))
    return made


def _seed(settings: Settings, objects: list[KubeObject], source: str) -> None:
    """Store the objects as an earlier apply would have (pods' runtime rows included)."""
    store = SqliteStore(settings.state_db)
    try:
        actions = plan_apply.compute_apply(objects, [], source=source, mode=ApplyMode.APPLY)
        keys = [plan_apply.key_of(o) for o in objects]
        uids = {k: f"uid-{k.name}" for k in keys}
        pods = {
            k: PodRecord(
                uid=uids[k],
                namespace=k.namespace,
                name=k.name,
                source=o.source,
                manifest=o.body,
                plan_json="{}",
                created_at=1.0,
            )
            for k, o in zip(keys, objects, strict=True)
        }
        engine_apply.write(store, actions, source=source, now=1.0, uids=uids, pods=pods)
    finally:
        store.close()


def test_unchanged_apply_of_50_pods_makes_no_runtime_call(
    settings: Settings, calls: list[str]
) -> None:
    objects = [_pod(f"web-{i}") for i in range(50)]
    _seed(settings, objects, "apply:pods.yaml")
    report = apply_svc.run(settings, objects, source="apply:pods.yaml", mode=ApplyMode.APPLY)
    assert report.lines == tuple(f"pod/web-{i} unchanged" for i in range(50))
    assert report.refused == ()
    assert calls == []
    assert report.pods_changed is False


def test_dry_run_changes_nothing_and_calls_nothing(settings: Settings, calls: list[str]) -> None:
    _seed(settings, [_pod("web")], "apply:pods.yaml")
    report = apply_svc.run(
        settings,
        [_pod("web", image="localhost/app:2"), _pod("new")],
        source="apply:pods.yaml",
        mode=ApplyMode.APPLY,
        dry_run=True,
    )
    assert report.lines == ("pod/web configured (dry run)", "pod/new created (dry run)")
    assert calls == []
    store = SqliteStore(settings.state_db)
    try:
        assert [r.name for r in store.list_records()] == ["web"]
    finally:
        store.close()


def _config(data: dict[str, str], name: str = "cfg") -> KubeObject:
    return KubeObject(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data},
        source="cfg.yaml",
    )


def test_write_keeps_uid_and_bumps_generation_then_rolls_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        first = plan_apply.compute_apply(
            [_config({"a": "1"})], [], source="s", mode=ApplyMode.APPLY
        )
        engine_apply.write(store, first, source="s", now=10.0)
        rec = store.get_record("", "ConfigMap", "default", "cfg")
        assert rec is not None
        meta = rec.body["metadata"]
        assert (meta["uid"], meta["generation"], meta["namespace"]) == (rec.uid, 1, "default")
        assert meta["creationTimestamp"] == "1970-01-01T00:00:10Z"
        stored = [engine_apply.applied_record(r) for r in store.list_records()]
        second = plan_apply.compute_apply(
            [_config({"a": "2"}), _config({}, name="other")],
            stored,
            source="s",
            mode=ApplyMode.APPLY,
        )
        written = engine_apply.write(store, second, source="s", now=20.0)
        again = store.get_record("", "ConfigMap", "default", "cfg")
        assert again is not None
        assert (again.uid, again.created_at, again.body["data"]) == (rec.uid, 10.0, {"a": "2"})
        assert again.generation == 2
        engine_apply.rollback(store, written)
        back = store.get_record("", "ConfigMap", "default", "cfg")
        assert back is not None
        assert (back.body["data"], back.generation) == ({"a": "1"}, 1)
        assert [r.name for r in store.list_records()] == ["cfg"]
    finally:
        store.close()


def test_prune_deletes_rows_without_runtime(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        made = plan_apply.compute_apply(
            [_config({"a": "1"}), _config({}, name="old")], [], source="s", mode=ApplyMode.APPLY
        )
        engine_apply.write(store, made, source="s", now=1.0)
        stored = [engine_apply.applied_record(r) for r in store.list_records()]
        pruned = plan_apply.compute_apply(
            [_config({"a": "1"})], stored, source="s", mode=ApplyMode.APPLY, prune=True
        )
        assert [e.message for e in pruned.prune] == ["configmap/old pruned"]
        engine_apply.write(store, pruned, source="s", now=2.0)
        assert [r.name for r in store.list_records()] == ["cfg"]
    finally:
        store.close()


def test_an_object_moved_to_another_file_only_changes_its_origin(
    settings: Settings, calls: list[str]
) -> None:
    _seed(settings, [_pod("web")], "apply:dir")
    moved = KubeObject(body=_pod("web").body, source="other.yaml", doc_index=2)
    report = apply_svc.run(settings, [moved], source="apply:dir", mode=ApplyMode.APPLY)
    assert report.lines == ("pod/web unchanged",)
    assert calls == []
    store = SqliteStore(settings.state_db)
    try:
        rec = store.get_record("", "Pod", "default", "web")
        assert rec is not None
        assert (rec.uid, rec.origin) == ("uid-web", "other.yaml#2")
    finally:
        store.close()


def test_the_last_apply_takes_an_unchanged_object_over_without_a_runtime_call(
    settings: Settings, calls: list[str]
) -> None:
    """apply -f a/ then apply -f b/ holding the same pod: b/ wins (kubectl's last writer),
    so a later `apply --prune` of a/ without the pod leaves it alone."""
    _seed(settings, [_pod("web")], "apply:/a")
    moved = KubeObject(body=_pod("web").body, source="b/pods.yaml")
    report = apply_svc.run(settings, [moved], source="apply:/b", mode=ApplyMode.APPLY)
    assert (report.lines, report.refused, calls) == (("pod/web unchanged",), (), [])
    pruned = apply_svc.run(settings, [], source="apply:/a", mode=ApplyMode.APPLY, prune=True)
    assert (pruned.lines, calls) == ((), [])
    store = SqliteStore(settings.state_db)
    try:
        rec = store.get_record("", "Pod", "default", "web")
        assert rec is not None
        assert (rec.uid, rec.source, rec.origin) == ("uid-web", "apply:/b", "b/pods.yaml#1")
    finally:
        store.close()


def test_a_failed_write_gives_a_taken_over_object_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        first = plan_apply.compute_apply(
            [_config({"a": "1"})], [], source="apply:/a", mode=ApplyMode.APPLY
        )
        engine_apply.write(store, first, source="apply:/a", now=1.0)
        stored = [engine_apply.applied_record(r) for r in store.list_records()]
        second = plan_apply.compute_apply(
            [_config({"a": "1"})], stored, source="apply:/b", mode=ApplyMode.APPLY
        )
        written = engine_apply.write(store, second, source="apply:/b", now=2.0)
        assert [r.source for r in store.list_records()] == ["apply:/b"]
        engine_apply.rollback(store, written)
        assert [r.source for r in store.list_records()] == ["apply:/a"]
    finally:
        store.close()


def _account(name: str = "robot", source: str = "sa.yaml") -> KubeObject:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    return KubeObject(body=body, source=source)


def test_a_stored_only_kind_warns_when_created_or_changed_not_when_unchanged(
    settings: Settings, calls: list[str]
) -> None:
    from kubeplay.kube import validate

    def applied(*objects: KubeObject) -> tuple[str, ...]:
        found = validate.validate(objects, merge=False)
        return apply_svc.run(
            settings, objects, source="apply:/sa", mode=ApplyMode.APPLY, warnings=found
        ).warnings

    stored_only = "kind: ServiceAccount is stored only"
    created = applied(_account())
    assert [stored_only in w for w in created] == [True]
    assert applied(_account()) == ()
    labelled = _account()
    labelled.body["metadata"]["labels"] = {"team": "a"}
    assert [stored_only in w for w in applied(labelled)] == [True]
    (merged,) = applied(labelled, _account("other"))
    assert merged.startswith("sa.yaml: document 1 (ServiceAccount other)"), merged
    assert "(also in" not in merged
