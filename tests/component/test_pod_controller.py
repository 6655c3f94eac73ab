"""The pod controller on the loop, with kubeplay.testing's fake runtime, images and network
and a real store (no root): the kubelet's sync order, teardown, restarts with the back-off
10 s doubling to 300 s on a fake clock, a failed restart, a probe's kill and
activeDeadlineSeconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import pods as engine_pods
from kubeplay.engine import volumes as engine_volumes
from kubeplay.engine.controllers.pods import PodController, pod_key
from kubeplay.engine.loop import Loop
from kubeplay.errors import NetworkError, SyncError
from kubeplay.plan import pods as plans
from kubeplay.plan import status
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.images import ImageConfig
from kubeplay.plan.probes import ProbeKill, ProbeType
from kubeplay.state.store import PodRecord, StoredObject
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host, new_uid


def _manifest(
    name: str = "web",
    *,
    containers: tuple[str, ...] = ("app",),
    inits: tuple[str, ...] = (),
    policy: str = "Always",
    host_network: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    def block(names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"name": n, "image": "busybox", "command": ["sh"]} for n in names]

    body: dict[str, Any] = {
        "restartPolicy": policy,
        "terminationGracePeriodSeconds": 5,
        "containers": block(containers),
        **spec,
    }
    if inits:
        body["initContainers"] = block(inits)
    if host_network:
        body["hostNetwork"] = True
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


class Env:
    def __init__(self, tmp_path: Path) -> None:
        images = FakeImageStore(
            {"busybox": ImageConfig(cmd=("sh",)), "busybox:1.36": ImageConfig(cmd=("sh",))}
        )
        self.fakes: FakeHost = fake_host(tmp_path, clock=FakeClock(time.time()), images=images)
        self.host = self.fakes.host
        self.clock = self.fakes.clock
        self.runtime = self.fakes.runtime
        self.controller = PodController(self.host, policy=BackoffPolicy(base=10.0, cap=300.0))
        self.loop = Loop([self.controller], workers=2, clock=self.clock, resync={})

    def play(self, manifest: dict[str, Any]) -> PodRecord:
        """What `play` does: the row, then one sync of the pod (sandbox, init, apps)."""
        uid = new_uid()
        plan = plans.compile_pod(manifest, uid=uid)
        self.host.store.add_pods(
            [
                PodRecord(
                    uid=uid,
                    namespace="default",
                    name=manifest["metadata"]["name"],
                    source="pod.yaml",
                    manifest=manifest,
                    plan_json=plans.to_json(plan),
                    created_at=self.clock(),
                )
            ]
        )
        engine_pods.sync_pod(self.host, plan)
        return self.record(uid)

    def update(self, uid: str, manifest: dict[str, Any]) -> None:
        """What an apply of a changed Pod writes (for the controller): the new plan."""
        plan = plans.compile_pod(manifest, uid=uid)
        self.host.store.update_pod(uid, plan_json=plans.to_json(plan))

    def record(self, uid: str) -> PodRecord:
        rec = self.host.store.get_pod_by_uid(uid)
        assert rec is not None
        return rec

    def status(self, uid: str) -> dict[str, Any]:
        rec = self.record(uid)
        plan = plans.from_json(rec.plan_json)
        return status.derive_pod_status(plan, engine_pods.observe(self.host, rec))

    def waiting(self, uid: str, name: str) -> str:
        obs = engine_pods.observe(self.host, self.record(uid)).get(name)
        return obs.waiting_reason if obs.state.value == "waiting" else obs.state.value

    async def settle(self, *names: str) -> None:
        self.loop.add([pod_key("default", n) for n in names or ("web",)])
        await self.loop.drain()

    def reasons(self, uid: str) -> list[str]:
        return [e.reason for e in self.host.store.list_events(uid)]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.host.close()


def test_play_syncs_in_the_kubelet_order_sandbox_init_containers_then_apps(env: Env) -> None:
    env.runtime.exit_on_start["setup"] = 0
    env.runtime.exit_on_start["migrate"] = 0
    rec = env.play(_manifest(inits=("setup", "migrate"), containers=("app", "side")))
    assert env.runtime.calls == [
        ("create", "_infra"),
        ("start", "_infra"),
        ("create", "setup"),
        ("start", "setup"),
        ("create", "migrate"),
        ("start", "migrate"),
        ("create", "app"),
        ("start", "app"),
        ("create", "side"),
        ("start", "side"),
    ]
    assert rec.lifecycle == "active"
    assert rec.pod_ip == env.fakes.network.attached[rec.uid]
    assert env.status(rec.uid)["phase"] == "Running"


@pytest.mark.parametrize(
    "infra_fails",
    [
        pytest.param(False, id="network-fails-while-the-containers-are-made"),
        pytest.param(True, id="network-and-infra-container-fail-network-reported"),
    ],
)
def test_a_sandbox_whose_network_fails_fails_as_network_and_leaves_it_to_teardown(
    env: Env, monkeypatch: pytest.MonkeyPatch, infra_fails: bool
) -> None:
    """The netns is wired while the containers are made: a wiring error fails the sync at
    step network (first in the kubelet's order, also when the infra container failed too),
    after the wiring thread ended, and no app container starts."""

    def unwired(plan: plans.PodPlan, netns: Path) -> str:
        raise NetworkError("bridge kpfake0: Operation not permitted", errno=1)

    monkeypatch.setattr(env.fakes.network, "attach", unwired)
    if infra_fails:
        env.runtime.fail_start.add("_infra")
    with pytest.raises(SyncError) as failed:
        env.play(_manifest())
    assert failed.value.step == "network"
    assert "Operation not permitted" in str(failed.value)
    assert not [t for t in threading.enumerate() if t.name == "kubeplay-wiring"]
    assert ("start", "app") not in env.runtime.calls
    (rec,) = env.host.store.list_pods()
    engine_pods.teardown_pod(env.host, rec)
    assert env.runtime.running() == []
    assert env.host.store.get_pod_by_uid(rec.uid) is None


def test_teardown_removes_every_container_mount_lease_and_row(env: Env) -> None:
    rec = env.play(_manifest(containers=("app", "side")))
    engine_pods.teardown_pod(env.host, rec)
    assert env.runtime.running() == []
    assert {c.state for c in env.runtime.containers.values()} == {"deleted"}
    assert env.fakes.images.mounted == set()
    assert env.fakes.network.attached == {}
    assert env.host.store.get_pod_by_uid(rec.uid) is None
    assert not engine_pods.pod_dir(env.host, rec.uid).exists()
    assert [op for op, name in env.runtime.calls if name == "app"][-2:] == ["kill 15", "delete"]


def test_restart_back_off_doubles_from_10_s_to_300_s_on_the_fake_clock(env: Env) -> None:
    rec = env.play(_manifest())
    key = pod_key("default", "web")
    waits: list[float] = []

    async def scenario() -> None:
        await env.loop.drain()
        env.runtime.exit(rec.uid, "app", 1)
        await env.settle()  # the first restart is at once
        assert env.runtime.find(rec.uid, "app") is not None
        for _ in range(7):
            env.runtime.exit(rec.uid, "app", 1)
            await env.settle()
            assert env.waiting(rec.uid, "app") == "CrashLoopBackOff"
            at = env.loop.timers.get(key)
            assert at is not None
            waits.append(round(at - env.clock(), 3))
            env.clock.advance(at - env.clock())
            await env.loop.drain()
            assert env.runtime.find(rec.uid, "app") is not None  # restarted when it ended

    asyncio.run(scenario())
    assert waits == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    app = next(s for s in env.status(rec.uid)["containerStatuses"] if s["name"] == "app")
    assert app["restartCount"] == 8
    assert "BackOff" in env.reasons(rec.uid)


def test_a_restart_reuses_its_image_and_an_image_update_takes_the_new_one(env: Env) -> None:
    """The plan holds no image: each instance records the image it was made from (imageID).
    A restart from the same definition takes that image again without a pull, even under
    pull policy Always (`busybox` is :latest), as kubeplay did when plans held image ids; an
    image update in place ensures the new image (per its policy) before its container
    starts."""
    rec = env.play(_manifest())
    images = env.fakes.images
    assert images.pulls == ["docker.io/library/busybox:latest"]  # Always: the first start

    async def scenario() -> None:
        await env.loop.drain()
        env.runtime.exit(rec.uid, "app", 1)
        await env.settle()  # the first restart is at once

    asyncio.run(scenario())
    statuses = {s["name"]: s for s in env.status(rec.uid)["containerStatuses"]}
    assert statuses["app"]["restartCount"] == 1
    assert images.pulls == ["docker.io/library/busybox:latest"]
    busybox = images.find("busybox")
    assert statuses["app"]["imageID"] == busybox.image_id
    manifest = _manifest()
    manifest["spec"]["containers"][0]["image"] = "busybox:1.36"
    env.update(rec.uid, manifest)
    asyncio.run(env.settle())
    assert images.pulls == ["docker.io/library/busybox:latest"]  # 1.36: IfNotPresent, held
    row = next(c for c in env.record(rec.uid).containers if c.name == "app")
    assert row.image_id == images.find("busybox:1.36").image_id


def test_a_failed_restart_ends_in_start_error_then_starts_after_back_off(env: Env) -> None:
    """The runtime cannot start the restarted instance: it ends as containerd ends it
    (StartError, exit code 128, counted as a restart), the back-off holds the next start
    (CrashLoopBackOff, the failed instance as lastState), which then works."""
    rec = env.play(_manifest())

    async def scenario() -> None:
        env.runtime.fail_start.add("app")
        env.runtime.exit(rec.uid, "app", 1)
        await env.settle()
        assert "Failed" in env.reasons(rec.uid)
        (app,) = env.status(rec.uid)["containerStatuses"]
        assert app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        last = app["lastState"]["terminated"]
        assert (last["reason"], last["exitCode"]) == ("StartError", 128)
        assert "exec format error" in last["message"]
        assert last["startedAt"] == "1970-01-01T00:00:00Z"
        assert app["restartCount"] == 1
        failed = last["containerID"].removeprefix("kubeplay://")
        assert ("delete", failed) in env.runtime.calls  # removed from the runtime at once
        env.runtime.fail_start.clear()
        waited = 0.0
        while env.runtime.find(rec.uid, "app") is None and waited < 60:
            at = env.loop.timers.get(pod_key("default", "web"))
            assert at is not None
            waited += at - env.clock()
            env.clock.advance(at - env.clock())
            await env.loop.drain()
        assert env.runtime.find(rec.uid, "app") is not None
        assert waited == pytest.approx(10.0, abs=0.5)  # the back-off's base

    asyncio.run(scenario())
    (app,) = env.status(rec.uid)["containerStatuses"]
    assert "running" in app["state"] and app["restartCount"] == 2
    assert app["lastState"]["terminated"]["reason"] == "StartError"


@pytest.mark.parametrize("policy", ["Never", "OnFailure"])
def test_a_container_the_runtime_cannot_start_is_terminated_with_start_error(
    env: Env, policy: str
) -> None:
    """A pod the supervisor starts (one whose volumes waited, an owner's) and whose
    container the runtime cannot start: StartError, exit code 128. Under Never it is not
    started again and the pod is Failed; under OnFailure it restarts with back-off."""
    env.runtime.fail_start.add("app")
    uid = new_uid()
    manifest = _manifest(policy=policy)
    plan = plans.compile_pod(manifest, uid=uid)
    env.host.store.add_pods(
        [
            PodRecord(
                uid=uid,
                namespace="default",
                name="web",
                source="pod.yaml",
                manifest=manifest,
                plan_json=plans.to_json(plan),
                created_at=env.clock(),
                lifecycle="active",
            )
        ]
    )

    async def scenario() -> None:
        await env.settle()
        env.clock.advance(0.1)  # the look after the failed start
        await env.loop.drain()
        if policy == "Never":  # past any back-off: still not started again
            env.clock.advance(400)
            await env.settle()

    asyncio.run(scenario())
    got = env.status(uid)
    (app,) = got["containerStatuses"]
    creates = [c for c in env.runtime.calls if c == ("create", "app")]
    if policy == "Never":
        assert got["phase"] == "Failed"
        ended = app["state"]["terminated"]
        assert (ended["reason"], ended["exitCode"]) == ("StartError", 128)
        assert app["restartCount"] == 0 and app["lastState"] == {}
        assert len(creates) == 1  # never tried again
    else:
        assert got["phase"] == "Running"
        assert app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert app["lastState"]["terminated"]["reason"] == "StartError"
        assert app["restartCount"] == 1
        assert len(creates) == 2  # the first restart at once, the next one held


def test_a_probe_kill_stops_that_instance_and_the_policy_restarts_it(env: Env) -> None:
    rec = env.play(_manifest())
    cid = env.runtime.find(rec.uid, "app")
    assert cid is not None

    async def scenario() -> None:
        kill = ProbeKill(
            rec.uid, "app", cid.cid, ProbeType.LIVENESS, "Container app failed liveness probe"
        )
        stale = ProbeKill(rec.uid, "app", "0" * 64, ProbeType.LIVENESS, "an older instance")
        assert env.controller.request_kill(kill) is None  # not listed yet
        await env.loop.drain()
        assert env.controller.request_kill(stale) == pod_key("default", "web")
        await env.settle()
        assert env.runtime.find(rec.uid, "app") == cid  # a stale kill kills nothing
        env.controller.request_kill(kill)
        await env.settle()
        assert cid.exit_code == 143
        assert env.runtime.find(rec.uid, "app") not in (None, cid)  # restarted at once

    asyncio.run(scenario())
    killing = [e for e in env.host.store.list_events(rec.uid) if e.reason == "Killing"]
    assert [e.message for e in killing] == ["Container app failed liveness probe"]


def test_active_deadline_fails_the_pod_on_its_timer(env: Env) -> None:
    rec = env.play(_manifest(activeDeadlineSeconds=30))
    key = pod_key("default", "web")

    async def scenario() -> None:
        await env.loop.drain()
        at = env.loop.timers.get(key)
        assert rec.started_at is not None
        assert at == pytest.approx(rec.started_at + 30)  # counted from the pod's start
        env.clock.advance(at - env.clock())
        await env.loop.drain()

    asyncio.run(scenario())
    assert env.status(rec.uid)["phase"] == "Failed"
    assert env.status(rec.uid)["reason"] == "DeadlineExceeded"
    assert env.runtime.find(rec.uid, "app") is None
    assert env.loop.needs[key] is False


def test_a_pod_that_finished_no_longer_needs_the_supervisor(env: Env) -> None:
    rec = env.play(_manifest(policy="Never"))

    async def scenario() -> None:
        await env.loop.drain()
        assert env.loop.needs[pod_key("default", "web")] is True
        env.runtime.exit(rec.uid, "app", 0)
        await env.settle()
        assert env.loop.needs[pod_key("default", "web")] is False

    asyncio.run(scenario())
    assert env.status(rec.uid)["phase"] == "Succeeded"


def test_an_image_update_restarts_that_container_alone_at_once(env: Env) -> None:
    """kubelet containerChanged: the stored spec hash differs from the plan's, so the
    running container is killed ("definition changed") and started from the new plan; the
    other container keeps running, untouched."""
    manifest = _manifest(containers=("app", "side"))
    rec = env.play(manifest)
    old_app, side = env.runtime.find(rec.uid, "app"), env.runtime.find(rec.uid, "side")
    assert old_app is not None and side is not None
    manifest["spec"]["containers"][0]["image"] = "busybox:1.36"
    env.update(rec.uid, manifest)

    async def scenario() -> None:
        await env.settle()

    asyncio.run(scenario())
    new_app = env.runtime.find(rec.uid, "app")
    assert new_app not in (None, old_app)
    assert old_app.exit_code == 143  # SIGTERM, within the grace period
    assert env.runtime.find(rec.uid, "side") == side
    statuses = {s["name"]: s for s in env.status(rec.uid)["containerStatuses"]}
    assert statuses["app"]["restartCount"] == 1
    assert statuses["app"]["image"] == "busybox:1.36"
    assert statuses["side"]["restartCount"] == 0
    killing = [e for e in env.host.store.list_events(rec.uid) if e.reason == "Killing"]
    assert [e.message for e in killing] == ["Container app definition changed, will be restarted"]
    rows = {c.name: c for c in env.record(rec.uid).containers}
    plan = plans.from_json(env.record(rec.uid).plan_json)
    assert rows["app"].spec_hash == plan.container("app").spec_hash  # type: ignore[union-attr]

    async def again() -> None:
        await env.settle()

    asyncio.run(again())
    assert env.runtime.find(rec.uid, "app") == new_app  # converged: nothing more to do


def test_a_missing_config_map_volume_waits_then_the_pod_starts_once_it_is_stored(
    env: Env,
) -> None:
    """kubelet: the pod stays ContainerCreating with FailedMount events, its volume set-up
    retried with back-off (0.5 s doubling), and starts as soon as the ConfigMap exists."""
    manifest = _manifest(
        volumes=[{"name": "conf", "configMap": {"name": "app-config"}}],
    )
    manifest["spec"]["containers"][0]["volumeMounts"] = [{"name": "conf", "mountPath": "/conf"}]
    rec = env.play(manifest)
    assert rec.lifecycle == "active"  # created: play does not fail
    assert env.runtime.calls == []  # no sandbox, no container
    assert env.waiting(rec.uid, "app") == "ContainerCreating"
    assert env.status(rec.uid)["phase"] == "Pending"
    key = pod_key("default", "web")
    waits: list[float] = []

    async def scenario() -> None:
        await env.loop.drain()
        for _ in range(3):
            at = env.loop.timers.get(key)
            assert at is not None
            waits.append(at - env.clock())
            env.clock.advance(at - env.clock())
            await env.loop.drain()
        assert env.runtime.calls == []
        env.host.store.put_objects(
            [
                StoredObject(
                    kind="ConfigMap",
                    namespace="default",
                    name="app-config",
                    source="cm.yaml",
                    body={"kind": "ConfigMap", "data": {"color": "blue"}},
                )
            ]
        )
        await env.settle()  # the command that stored it nudges the supervisor

    asyncio.run(scenario())
    assert waits == [0.5, 1.0, 2.0]
    assert env.runtime.find(rec.uid, "app") is not None
    assert env.status(rec.uid)["phase"] == "Running"
    volume = engine_volumes.host_path_of(env.host, plans.from_json(rec.plan_json), _conf(rec))
    assert (volume / "color").read_text() == "blue"
    mounts = [e for e in env.host.store.list_events(rec.uid) if e.reason == "FailedMount"]
    assert [(e.type, e.message, e.count) for e in mounts] == [
        (
            "Warning",
            'MountVolume.SetUp failed for volume "conf" : configmap "app-config" not found',
            5,  # play's try, the first sync, three timers
        )
    ]
    assert [e.reason for e in env.host.store.list_events(rec.uid)].count("Scheduled") == 1


def test_a_missing_claim_waits_then_the_pod_starts_once_the_claim_is_stored(env: Env) -> None:
    """A pod whose PersistentVolumeClaim is not there waits like one missing a ConfigMap
    (FailedMount, no volume made on first use: the supervisor is not `play`), and starts
    once the claim object is stored, its named volume made then with the claim."""
    manifest = _manifest(volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "db"}}])
    manifest["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    rec = env.play(manifest)
    assert env.runtime.calls == []
    assert env.waiting(rec.uid, "app") == "ContainerCreating"
    assert env.host.store.get_volume("db") is None

    async def scenario() -> None:
        await env.loop.drain()
        assert env.runtime.calls == []
        claim = {"kind": "PersistentVolumeClaim", "metadata": {"name": "db"}, "spec": {}}
        env.host.store.put_objects(
            [
                StoredObject(
                    kind="PersistentVolumeClaim",
                    namespace="default",
                    name="db",
                    source="claim.yaml",
                    body=claim,
                )
            ]
        )
        await env.settle()

    asyncio.run(scenario())
    assert env.status(rec.uid)["phase"] == "Running"
    volume = env.host.store.get_volume("db")
    assert volume is not None and volume.claim == {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "db"},
        "spec": {},
    }
    mounts = [e for e in env.host.store.list_events(rec.uid) if e.reason == "FailedMount"]
    assert [(e.message, e.count) for e in mounts] == [
        (
            'MountVolume.SetUp failed for volume "data" : error processing PVC default/db: '
            'failed to fetch PVC from API server: persistentvolumeclaims "db" not found',
            2,  # play's try, the first sync
        )
    ]
    claim_rec = env.host.store.get_record("", "PersistentVolumeClaim", "default", "db")
    assert claim_rec is not None
    assert [(e.kind, e.name, e.reason) for e in env.host.store.list_events(claim_rec.uid)] == [
        ("PersistentVolumeClaim", "db", "ProvisioningSucceeded")
    ]


def _conf(rec: PodRecord) -> Any:
    return next(v for v in plans.from_json(rec.plan_json).volumes if v.name == "conf")
