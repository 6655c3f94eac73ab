"""engine.ownedpods with the fakes and a real store (no root): pods an owner creates are
started by the pod controller, found by the owner's uid, deleted through terminating within
their grace period; a hostPort held by another pod (or a Service as its nodePort) leaves a
new one Pending with the scheduler's message until the port is free; a pod that changes
queues its owner's key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import ownedpods, reconcile
from kubeplay.engine import pods as engine_pods
from kubeplay.engine.controllers.pods import PodController, pod_key
from kubeplay.engine.loop import Loop, ObjectKey, SyncResult
from kubeplay.errors import PermanentError
from kubeplay.plan import pods as plans
from kubeplay.plan import status
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.images import ImageConfig
from kubeplay.state.store import PodRecord
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host

OWNER_UID = "11111111-2222-4333-8444-555555555555"


def _body(name: str, *, host_port: int = 0, owner_uid: str = OWNER_UID) -> dict[str, Any]:
    ctr: dict[str, Any] = {"name": "app", "image": "busybox", "command": ["sh"]}
    if host_port:
        ctr["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "web"},
            "ownerReferences": [
                ownedpods.owner_reference(
                    api_version="apps/v1", kind="ReplicaSet", name="web-abc", uid=owner_uid
                )
            ],
        },
        "spec": {"terminationGracePeriodSeconds": 5, "containers": [ctr]},
    }


class Env:
    def __init__(self, tmp_path: Path) -> None:
        images = FakeImageStore({"busybox": ImageConfig(cmd=("sh",))})
        self.fakes: FakeHost = fake_host(tmp_path, clock=FakeClock(time.time()), images=images)
        self.host = self.fakes.host
        self.clock = self.fakes.clock
        self.runtime = self.fakes.runtime
        self.controller = PodController(
            self.host,
            policy=BackoffPolicy(base=10.0, cap=300.0),
            watchers=[ownedpods.owner_keys],
        )
        self.owners = Owners()
        self.loop = Loop([self.controller, self.owners], workers=2, clock=self.clock, resync={})

    def record(self, name: str) -> PodRecord:
        rec = self.host.store.get_pod("default", name)
        assert rec is not None
        return rec

    def status(self, name: str) -> dict[str, Any]:
        rec = self.record(name)
        plan = plans.from_json(rec.plan_json)
        return status.derive_pod_status(plan, engine_pods.observe(self.host, rec))

    async def settle(self, *names: str) -> None:
        self.loop.add([pod_key("default", n) for n in names])
        await self.loop.drain()


class Owners:
    """A stand-in owner controller: records the keys it is asked to sync."""

    kinds = frozenset({"ReplicaSet"})

    def __init__(self) -> None:
        self.synced: list[ObjectKey] = []

    def keys(self) -> list[ObjectKey]:
        return []

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        self.synced.append(key)
        return SyncResult()

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        raise AssertionError(err)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.host.close()


def test_created_pods_are_owned_and_started_by_the_pod_controller(env: Env) -> None:
    made = ownedpods.create(env.host, [_body("web-abc-bbbbb"), _body("web-abc-ccccc")])
    assert [p.lifecycle for p in made.pods] == ["active", "active"]
    owned = ownedpods.owned(env.host.store, OWNER_UID)
    assert sorted(p.name for p in owned) == ["web-abc-bbbbb", "web-abc-ccccc"]
    assert ownedpods.owned(env.host.store, "someone-else") == []
    obj = env.host.store.get_record("", "Pod", "default", "web-abc-bbbbb")
    assert obj is not None and obj.owner_uid == OWNER_UID and obj.source == ""
    asyncio.run(env.settle("web-abc-bbbbb", "web-abc-ccccc"))
    assert env.status("web-abc-bbbbb")["phase"] == "Running"
    assert sorted(n for _, n in env.runtime.running() if n == "app") == ["app", "app"]
    # each pod's creation and start queued its owner
    assert set(env.owners.synced) == {ObjectKey("ReplicaSet", "default", "web-abc")}


def test_delete_marks_terminating_and_the_controller_removes_it(env: Env) -> None:
    ownedpods.create(env.host, [_body("web-abc-bbbbb")])
    asyncio.run(env.settle("web-abc-bbbbb"))
    env.owners.synced.clear()
    ownedpods.delete(env.host, env.record("web-abc-bbbbb"), now=env.clock())
    assert env.record("web-abc-bbbbb").lifecycle == "terminating"
    asyncio.run(env.settle("web-abc-bbbbb"))
    assert env.host.store.get_pod("default", "web-abc-bbbbb") is None
    assert env.runtime.running() == []
    # stopped with its stop signal first (SIGTERM), within the grace period
    assert ("kill 15", "app") in env.runtime.calls
    assert env.owners.synced == [ObjectKey("ReplicaSet", "default", "web-abc")]


def test_a_held_host_port_leaves_the_new_pod_pending_until_it_is_free(env: Env) -> None:
    ownedpods.create(env.host, [_body("web-abc-bbbbb", host_port=8080)])
    made = ownedpods.create(env.host, [_body("web-abc-ccccc", host_port=8080)])
    assert [p.lifecycle for p in made.pods] == [ownedpods.PENDING]
    asyncio.run(env.settle("web-abc-bbbbb", "web-abc-ccccc"))
    pending = env.status("web-abc-ccccc")
    assert pending["phase"] == "Pending"
    assert pending["conditions"] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastTransitionTime": pending["conditions"][0]["lastTransitionTime"],
            "reason": "Unschedulable",
            "message": status.NO_FREE_PORTS,
        }
    ]
    assert "containerStatuses" not in pending
    assert env.loop.needs[pod_key("default", "web-abc-ccccc")] is True
    assert env.loop.timers.get(pod_key("default", "web-abc-ccccc")) is not None
    # still held: still pending
    env.clock.advance(1.0)
    asyncio.run(env.settle("web-abc-ccccc"))
    assert env.record("web-abc-ccccc").lifecycle == ownedpods.PENDING
    # the holder goes (its port with it once it is removed): the pending pod's next look
    # binds and starts it
    ownedpods.delete(env.host, env.record("web-abc-bbbbb"), now=env.clock())
    asyncio.run(env.settle("web-abc-bbbbb"))
    env.clock.advance(1.0)
    asyncio.run(env.loop.drain())
    assert env.record("web-abc-ccccc").lifecycle == "active"
    assert env.status("web-abc-ccccc")["phase"] == "Running"


def test_a_service_node_port_leaves_a_pod_asking_it_as_host_port_pending(env: Env) -> None:
    from kubeplay.state.store import ObjectRecord

    svc = ObjectRecord(
        uid="33333333-2222-4333-8444-555555555555",
        api_group="",
        kind="Service",
        namespace="default",
        name="web",
        body={
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
        },
    )
    env.host.store.put_records([svc])
    (pending,) = ownedpods.create(env.host, [_body("web-abc-bbbbb", host_port=30080)]).pods
    assert pending.lifecycle == ownedpods.PENDING
    assert ownedpods.schedule(env.host, pending) is False
    env.host.store.delete_records([svc.uid])
    assert ownedpods.schedule(env.host, pending) is True


def test_two_new_pods_claiming_one_port_at_once_bind_one(env: Env) -> None:
    made = ownedpods.create(
        env.host, [_body("web-abc-bbbbb", host_port=9090), _body("web-abc-ccccc", host_port=9090)]
    )
    assert [p.lifecycle for p in made.pods] == ["active", ownedpods.PENDING]


def test_a_pending_pod_deleted_goes_at_once(env: Env) -> None:
    ownedpods.create(env.host, [_body("web-abc-bbbbb", host_port=8080)])
    (pending,) = ownedpods.create(env.host, [_body("web-abc-ccccc", host_port=8080)]).pods
    ownedpods.delete(env.host, pending)
    assert env.host.store.get_pod("default", "web-abc-ccccc") is None


def test_reconcile_syncs_dependents_once_and_returns_their_pods(env: Env) -> None:
    chain = Chain()
    done = reconcile.reconcile(
        env.host, [ObjectKey("Deployment", "default", "web")], controllers=[chain]
    )
    deployment, replicaset = (
        ObjectKey("Deployment", "default", "web"),
        ObjectKey("ReplicaSet", "default", "web-abc"),
    )
    # the ReplicaSet names its Deployment again (its status changed): synced once more, then
    # no key more than MAX_SYNCS_PER_KEY times
    assert done.synced == (deployment, replicaset, deployment, replicaset)
    assert done.pods == (pod_key("default", "web-abc-bbbbb"),)
    assert done.needs_supervisor is True


class Chain:
    """Deployment -> ReplicaSet -> a pod, as `also` keys."""

    kinds = frozenset({"Deployment", "ReplicaSet"})

    def keys(self) -> list[ObjectKey]:
        return []

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        if key.kind == "Deployment":
            return SyncResult(also=(ObjectKey("ReplicaSet", "default", "web-abc"),))
        return SyncResult(
            requeue_after=1.0,
            also=(pod_key("default", "web-abc-bbbbb"), ObjectKey("Deployment", "default", "web")),
        )

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        raise AssertionError(err)
