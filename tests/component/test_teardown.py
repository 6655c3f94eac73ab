"""Tearing down many pods at once (down), with a fake runtime and a fake clock, a real
SqliteStore underneath (no root).

The kubelet stops every pod at once: each is sent its stop signal before any grace period is
waited out, and the grace periods run side by side, so 50 pods with a 30 s grace period take
30 s, not 30 s per batch of `parallelism` pods. The fake containers ignore SIGTERM and die on
SIGKILL; waiting for one advances the fake clock by what is waited.
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import pods as engine_pods
from kubeplay.engine.host import Host
from kubeplay.plan import pods as pods_mod
from kubeplay.runtime.exits import ContainerExit
from kubeplay.settings import Settings
from kubeplay.state.store import ContainerRecord, PodRecord

T0 = 1_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = T0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)


class FakeRuntime:
    """Containers that ignore SIGTERM and die on SIGKILL; every call in order."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, str, int]] = []
        self.dead: set[str] = set()
        self._lock = threading.Lock()

    def kill(self, cid: str, sig: int, *, all_procs: bool = False, pid: int = 0) -> None:
        with self._lock:
            self.calls.append(("kill", cid, int(sig)))
            if int(sig) == 9:
                self.dead.add(cid)

    def wait_exit(self, cid: str, timeout: float) -> ContainerExit | None:
        with self._lock:
            if cid in self.dead:
                return ContainerExit(exit_code=137, finished_at=self.clock.now, oom_killed=False)
        self.clock.advance(timeout)  # waited the whole timeout: SIGTERM is ignored
        return None

    def monitor_alive(self, cid: str) -> bool:
        return True  # conmon runs: the exit file tells when the container ends

    def delete(self, cid: str, *, force: bool = False) -> None:
        with self._lock:
            self.calls.append(("delete", cid, 0))

    def read_exit(self, cid: str) -> ContainerExit | None:
        with self._lock:
            if cid in self.dead:
                return ContainerExit(exit_code=137, finished_at=self.clock.now, oom_killed=False)
        return None


class FakeImages:
    def unmount_rootfs(self, path: Path, *, lazy: bool = False) -> None:
        return None


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.host = Host(Settings(root=tmp_path / "root", runroot=tmp_path / "run"))
        self.clock = FakeClock()
        self.runtime = FakeRuntime(self.clock)
        self.host.__dict__["runtime"] = self.runtime
        self.host.__dict__["images"] = FakeImages()
        self.host.read_exit = self.runtime.read_exit  # type: ignore[method-assign]

    def add_pods(self, count: int, *, grace: int) -> list[PodRecord]:
        for i in range(count):
            uid = f"u{i:02d}"
            manifest: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"stubborn{i:02d}"},
                "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "containers": [{"name": "main", "image": "busybox"}],
                },
            }
            plan = pods_mod.compile_pod(manifest, uid=uid)
            self.host.store.add_pods(
                [
                    PodRecord(
                        uid=uid,
                        namespace="default",
                        name=f"stubborn{i:02d}",
                        source="pods.yaml",
                        manifest=manifest,
                        plan_json=pods_mod.to_json(plan),
                        created_at=T0,
                    )
                ]
            )
            self.host.store.update_pod(uid, lifecycle="active", started_at=T0)
            for kind, name, cid in (("infra", "_infra", f"i{i:02d}"), ("app", "main", f"c{i:02d}")):
                self.host.store.put_container(
                    ContainerRecord(
                        pod_uid=uid,
                        name=name,
                        kind=kind,
                        container_id=cid,
                        pid=100 + i,
                        started_at=T0,
                    )
                )
        return self.host.store.list_pods()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    e = Env(tmp_path)
    monkeypatch.setattr(
        engine_pods, "time", types.SimpleNamespace(monotonic=e.clock, time=time.time)
    )
    yield e
    e.host.close()


@pytest.mark.parametrize(
    ("pods", "parallelism", "grace"),
    [
        pytest.param(4, 2, 1, id="more-pods-than-parallelism-grace-1s"),
        pytest.param(50, 8, 30, id="fifty-pods-grace-30s"),
    ],
)
def test_every_pod_is_signalled_before_any_grace_period_ends(
    env: Env, pods: int, parallelism: int, grace: int
) -> None:
    recs = env.add_pods(pods, grace=grace)
    errors = engine_pods.teardown_pods(env.host, recs, parallelism=parallelism)
    assert errors == []
    calls = env.runtime.calls
    terms = [i for i, (what, cid, sig) in enumerate(calls) if what == "kill" and sig == 15]
    kills = [i for i, (what, cid, sig) in enumerate(calls) if what == "kill" and sig == 9]
    assert len(terms) == pods  # the app containers; the infra gets SIGKILL at removal
    assert max(terms) < min(kills)
    # The grace periods ran side by side: the clock moved by one grace period, not one per
    # batch of `parallelism` pods.
    assert env.clock.now - T0 == pytest.approx(grace, abs=0.5)
    assert env.host.store.list_pods() == []
    assert sorted(cid for what, cid, _ in calls if what == "delete") == sorted(
        [f"c{i:02d}" for i in range(pods)] + [f"i{i:02d}" for i in range(pods)]
    )


def test_a_grace_period_override_applies_to_every_pod(env: Env) -> None:
    recs = env.add_pods(6, grace=30)
    assert engine_pods.teardown_pods(env.host, recs, grace=0, parallelism=2) == []
    assert env.clock.now == T0  # grace 0: killed at once, nothing waited
    assert env.host.store.list_pods() == []


def test_a_pod_that_fails_to_tear_down_leaves_the_others_removed(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubeplay.errors import StateError

    recs = env.add_pods(3, grace=1)
    delete = env.runtime.delete

    def failing(cid: str, *, force: bool = False) -> None:
        if cid == "c01":
            raise StateError("runc delete c01: device busy")
        delete(cid, force=force)

    monkeypatch.setattr(env.runtime, "delete", failing)
    errors = engine_pods.teardown_pods(env.host, recs, parallelism=2)
    assert [str(e) for e in errors] == [
        "pod default/stubborn01: teardown: runc delete c01: device busy"
    ]
    assert [r.name for r in env.host.store.list_pods()] == ["stubborn01"]
