"""The StatefulSet and DaemonSet controllers with the fakes and a real store (no root): pods
made one at a time in ordinal order and removed from the highest, claims made per ordinal
and kept when a pod goes, a pod deleted by hand made again under its name with its claim,
Parallel, a rolling update from the highest ordinal, the set's deletion collecting its
pods; a DaemonSet's one pod, replaced when deleted and on a template change."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import ownedpods
from kubeplay.engine.controllers.daemonsets import DaemonSetController
from kubeplay.engine.controllers.pods import PodController, pod_key
from kubeplay.engine.controllers.statefulsets import StatefulSetController
from kubeplay.engine.loop import Loop, ObjectKey
from kubeplay.kube import defaults
from kubeplay.plan import pods as plans
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.images import ImageConfig
from kubeplay.state.store import ObjectRecord, PodRecord
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host

STS_UID = "aaaaaaaa-2222-4333-8444-555555555555"
DS_UID = "bbbbbbbb-2222-4333-8444-555555555555"
STS = ObjectKey("StatefulSet", "default", "web")
DS = ObjectKey("DaemonSet", "default", "agent")


def _template(image: str = "busybox") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "app", "image": image, "command": ["sh"]}],
        },
    }


def sts_body(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": _template(),
            **spec,
        },
    }


def ds_body(image: str = "busybox") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": _template(image)},
    }


CLAIMS = [
    {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
]


class Env:
    def __init__(self, tmp_path: Path) -> None:
        images = FakeImageStore({"busybox": ImageConfig(cmd=("sh",))})
        self.fakes: FakeHost = fake_host(tmp_path, clock=FakeClock(time.time()), images=images)
        self.host = self.fakes.host
        self.clock = self.fakes.clock
        self.runtime = self.fakes.runtime
        self.pods = PodController(
            self.host, policy=BackoffPolicy(base=10.0, cap=300.0), watchers=[ownedpods.owner_keys]
        )
        self.sets = StatefulSetController(self.host, clock=self.clock)
        self.daemons = DaemonSetController(self.host, clock=self.clock)
        self.loop = Loop(
            [self.pods, self.sets, self.daemons], workers=2, clock=self.clock, resync={}
        )
        self.generation = 0

    def put(self, body: dict[str, Any], uid: str) -> None:
        """Store (or update) a set as apply would: defaulted, generation bumped."""
        self.generation += 1
        old = self.host.store.get_record_by_uid(uid)
        live = defaults.default_object(body)
        if old is not None and "status" in old.body:
            live["status"] = old.body["status"]
        self.host.store.put_records(
            [
                ObjectRecord(
                    uid=uid,
                    api_group="apps",
                    kind=body["kind"],
                    namespace="default",
                    name=body["metadata"]["name"],
                    body=live,
                    source="play",
                    generation=self.generation,
                    created_at=self.clock(),
                )
            ]
        )

    def names(self, owner: str = STS_UID) -> list[str]:
        return sorted(p.name for p in ownedpods.owned(self.host.store, owner))

    def record(self, name: str) -> PodRecord:
        rec = self.host.store.get_pod("default", name)
        assert rec is not None
        return rec

    def sync(self, key: ObjectKey = STS) -> None:
        controller = self.sets if key.kind == "StatefulSet" else self.daemons
        controller.sync(key, now=self.clock())

    async def settle(self, *keys: ObjectKey) -> None:
        self.loop.add(keys)
        await self.loop.drain()

    def run(self, *keys: ObjectKey) -> None:
        asyncio.run(self.settle(*keys))

    def status(self, key: ObjectKey = STS) -> dict[str, Any]:
        rec = self.host.store.get_record("apps", key.kind, key.namespace, key.name)
        assert rec is not None
        return dict(rec.body.get("status") or {})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.host.close()


def test_ordered_ready_makes_one_pod_at_a_time_in_ordinal_order(env: Env) -> None:
    env.put(sts_body(), STS_UID)
    env.sync()
    assert env.names() == ["web-0"]
    env.sync()  # web-0 is not Running and Ready yet: nothing more
    assert env.names() == ["web-0"]
    env.run(pod_key("default", "web-0"))  # the pod controller starts it; its change
    assert env.names() == ["web-0", "web-1", "web-2"]  # brings the set back, one by one
    rec = env.record("web-2")
    labels = rec.manifest["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-2"
    assert labels["apps.kubernetes.io/pod-index"] == "2"
    assert labels["controller-revision-hash"] == env.status()["updateRevision"]
    assert rec.manifest["spec"]["hostname"] == "web-2"
    assert rec.manifest["spec"]["subdomain"] == "web"
    created = [p.created_at for p in map(env.record, ["web-0", "web-1", "web-2"])]
    assert created == sorted(created)
    status = env.status()
    assert (status["replicas"], status["readyReplicas"]) == (3, 3)
    assert status["currentRevision"] == status["updateRevision"]
    assert env.sets.needed() is False


def test_scale_down_removes_the_highest_ordinal_first_and_waits_for_it(env: Env) -> None:
    env.put(sts_body(), STS_UID)
    env.run(STS)
    env.put(sts_body(replicas=1), STS_UID)
    env.sync()
    assert env.record("web-2").lifecycle == "terminating"
    assert env.record("web-1").lifecycle == "active"
    env.sync()  # web-2 still terminating: web-1 waits
    assert env.record("web-1").lifecycle == "active"
    env.run(pod_key("default", "web-2"))
    assert env.names() == ["web-0"]
    assert env.status()["replicas"] == 1


def test_claims_per_ordinal_survive_a_pod_deleted_by_hand(env: Env) -> None:
    env.put(sts_body(replicas=2, volumeClaimTemplates=copy.deepcopy(CLAIMS)), STS_UID)
    env.run(STS)
    assert env.names() == ["web-0", "web-1"]
    for name in ("data-web-0", "data-web-1"):
        claim = env.host.store.get_record("", "PersistentVolumeClaim", "default", name)
        assert claim is not None and claim.body["metadata"]["labels"] == {"app": "web"}
        assert env.host.store.get_volume(name) is not None
    old = env.record("web-1")
    plan = plans.from_json(old.plan_json)
    assert [v.claim_name for v in plan.volumes if v.claim_name] == ["data-web-1"]
    ownedpods.delete(env.host, old, now=env.clock())  # `kubeplay delete pod web-1`
    env.run(pod_key("default", "web-1"))
    again = env.record("web-1")
    assert again.uid != old.uid
    assert [v.claim_name for v in plans.from_json(again.plan_json).volumes if v.claim_name] == [
        "data-web-1"
    ]
    # scale down keeps the claim (whenScaled: Retain)
    env.put(sts_body(replicas=1, volumeClaimTemplates=copy.deepcopy(CLAIMS)), STS_UID)
    env.run(STS)
    assert env.names() == ["web-0"]
    assert env.host.store.get_volume("data-web-1") is not None


def test_when_scaled_delete_removes_the_claim_after_its_pod(env: Env) -> None:
    policy = {"whenScaled": "Delete"}
    body = sts_body(replicas=2, volumeClaimTemplates=copy.deepcopy(CLAIMS))
    body["spec"]["persistentVolumeClaimRetentionPolicy"] = policy
    env.put(body, STS_UID)
    env.run(STS)
    body = copy.deepcopy(body)
    body["spec"]["replicas"] = 1
    env.put(body, STS_UID)
    env.run(STS)
    assert env.names() == ["web-0"]
    assert env.host.store.get_volume("data-web-1") is None
    assert env.host.store.get_record("", "PersistentVolumeClaim", "default", "data-web-1") is None
    assert env.host.store.get_volume("data-web-0") is not None


def test_parallel_makes_every_pod_in_one_sync(env: Env) -> None:
    env.put(sts_body(podManagementPolicy="Parallel"), STS_UID)
    env.sync()
    assert env.names() == ["web-0", "web-1", "web-2"]


def test_rolling_update_replaces_pods_from_the_highest_ordinal(env: Env) -> None:
    env.put(sts_body(), STS_UID)
    env.run(STS)
    first = env.status()["updateRevision"]
    body = sts_body()
    body["spec"]["template"]["metadata"]["labels"]["tier"] = "v2"
    env.put(body, STS_UID)
    env.sync()
    assert env.record("web-2").lifecycle == "terminating"
    assert env.status()["currentRevision"] == first
    assert env.status()["updateRevision"] != first
    env.run(STS, pod_key("default", "web-2"))
    status = env.status()
    assert status["currentRevision"] == status["updateRevision"] != first
    revisions = {
        r.name: r.body["revision"]
        for r in env.host.store.list_records(["ControllerRevision"], owner_uid=STS_UID)
    }
    assert revisions == {first: 1, status["updateRevision"]: 2}
    for name in env.names():
        labels = env.record(name).manifest["metadata"]["labels"]
        assert labels["controller-revision-hash"] == status["updateRevision"]
        assert labels["tier"] == "v2"


def test_deleted_set_takes_its_pods_and_revisions_and_keeps_claims(env: Env) -> None:
    env.put(sts_body(replicas=2, volumeClaimTemplates=copy.deepcopy(CLAIMS)), STS_UID)
    env.run(STS)
    env.host.store.delete_records([STS_UID])
    env.run(STS)
    assert env.names() == []
    assert env.runtime.running() == []
    assert env.host.store.list_records(["ControllerRevision"]) == []
    assert env.host.store.get_volume("data-web-0") is not None


def test_daemonset_runs_one_pod_and_replaces_it(env: Env) -> None:
    env.put(ds_body(), DS_UID)
    env.run(DS)
    (first,) = env.names(DS_UID)
    assert first.startswith("agent-") and len(first) == len("agent-") + 5
    status = env.status(DS)
    assert (status["desiredNumberScheduled"], status["numberReady"]) == (1, 1)
    ownedpods.delete(env.host, env.record(first), now=env.clock())
    env.run(pod_key("default", first))
    (second,) = env.names(DS_UID)
    assert second != first
    assert env.record(second).lifecycle == "active"
    assert env.daemons.needed() is False


def test_daemonset_update_deletes_the_old_pod_before_making_the_new(env: Env) -> None:
    env.put(ds_body(), DS_UID)
    env.run(DS)
    (old,) = env.names(DS_UID)
    body = ds_body()
    body["spec"]["template"]["metadata"]["labels"]["tier"] = "v2"
    env.put(body, DS_UID)
    env.sync(DS)
    assert env.names(DS_UID) == [old]
    assert env.record(old).lifecycle == "terminating"
    env.run(pod_key("default", old))
    (new,) = env.names(DS_UID)
    assert new != old
    assert env.record(new).manifest["metadata"]["labels"]["tier"] == "v2"
    assert env.status(DS)["updatedNumberScheduled"] == 1


def test_daemonset_pod_tolerates_node_problems_and_is_pinned_to_the_node(env: Env) -> None:
    env.put(ds_body(), DS_UID)
    env.run(DS)
    (name,) = env.names(DS_UID)
    spec = env.record(name).manifest["spec"]
    assert {t["key"] for t in spec["tolerations"]} >= {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/unschedulable",
    }
    required = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["localhost"]}]}
    ]


def test_daemonset_whose_node_affinity_stops_matching_removes_its_pod(env: Env) -> None:
    """The template's required node affinity no longer matches the one node (as a cluster
    whose only node lacks the label): the pod goes, nothing is made, status desires 0."""
    env.put(ds_body(), DS_UID)
    env.run(DS)
    (name,) = env.names(DS_UID)
    body = ds_body()
    body["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}
                        ]
                    }
                ]
            }
        }
    }
    env.put(body, DS_UID)
    env.run(DS)
    env.run(pod_key("default", name))
    assert env.names(DS_UID) == []
    status = env.status(DS)
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"]) == (0, 0)
    assert status["numberMisscheduled"] == 0 and status["numberReady"] == 0


def test_daemonset_on_a_node_it_does_not_select_runs_nothing(env: Env) -> None:
    body = ds_body()
    body["spec"]["template"]["spec"]["nodeSelector"] = {"disktype": "ssd"}
    env.put(body, DS_UID)
    env.run(DS)
    assert env.names(DS_UID) == []
    assert env.status(DS)["desiredNumberScheduled"] == 0


def test_a_broken_revision_blocks_the_fixed_one_until_its_pod_is_deleted(env: Env) -> None:
    env.put(sts_body(replicas=2), STS_UID)
    env.run(STS)
    first = env.status()["updateRevision"]
    broken = sts_body(replicas=2)
    broken["spec"]["template"]["spec"]["containers"][0]["image"] = "missing:1"
    env.put(broken, STS_UID)
    env.run(STS)  # web-1 is made again from the broken revision and never gets Ready
    bad = env.record("web-1").manifest["metadata"]["labels"]["controller-revision-hash"]
    assert bad not in (first, "")
    assert env.record("web-0").manifest["metadata"]["labels"]["controller-revision-hash"] == first
    fixed = sts_body(replicas=2)
    fixed["spec"]["template"]["metadata"]["labels"]["fixed"] = "yes"
    env.put(fixed, STS_UID)
    env.run(STS)  # the trap: web-1 (broken revision) blocks everything
    assert env.record("web-1").manifest["metadata"]["labels"]["controller-revision-hash"] == bad
    rec = env.host.store.get_record("apps", "StatefulSet", "default", "web")
    assert rec is not None
    blocked = [e for e in env.host.store.list_events(rec.uid) if e.reason == "RolloutBlocked"]
    assert blocked and "kubeplay delete pod web-1" in blocked[-1].message
    ownedpods.delete(env.host, env.record("web-1"), now=env.clock())  # the forced rollback
    env.run(pod_key("default", "web-1"))
    status = env.status()
    assert status["currentRevision"] == status["updateRevision"] not in (first, bad)
    for name in ("web-0", "web-1"):
        assert env.record(name).manifest["metadata"]["labels"]["fixed"] == "yes"


def test_a_new_supervisor_continues_a_rollout_from_the_store(env: Env) -> None:
    env.put(sts_body(), STS_UID)
    env.run(STS)
    body = sts_body()
    body["spec"]["template"]["metadata"]["labels"]["tier"] = "v2"
    env.put(body, STS_UID)
    env.sync()  # one step (web-2 marked terminating), then the supervisor is killed
    assert env.record("web-2").lifecycle == "terminating"
    # a new supervisor: fresh controllers and loop over the same store and runtime
    pods = PodController(
        env.host, policy=BackoffPolicy(base=10.0, cap=300.0), watchers=[ownedpods.owner_keys]
    )
    sets = StatefulSetController(env.host, clock=env.clock, wait=False)
    loop = Loop([pods, sets], workers=2, clock=env.clock, resync={})
    asyncio.run(loop.drain())  # its first turn lists every key
    status = env.status()
    assert status["currentRevision"] == status["updateRevision"]
    assert env.names() == ["web-0", "web-1", "web-2"]
    assert all(env.record(n).manifest["metadata"]["labels"]["tier"] == "v2" for n in env.names())
    assert len(env.host.store.list_pods()) == 3


def test_a_set_applied_again_adopts_the_pods_an_orphaning_delete_left(env: Env) -> None:
    """ClaimPods (isMemberOf): `delete statefulset --cascade=orphan` leaves web-0 and web-1
    without an owner; the set applied again (a new uid) adopts them, makes no new pod and
    restarts none."""
    from kubeplay.engine import cascade

    env.put(sts_body(replicas=2), STS_UID)
    env.run(STS)
    before = {n: env.record(n).uid for n in env.names()}
    old = env.host.store.get_record_by_uid(STS_UID)
    assert old is not None and sorted(before) == ["web-0", "web-1"]
    cascade.orphan(env.host, old, now=env.clock())
    env.run(STS)  # the set is gone: its released pods stay
    assert sorted(p.name for p in env.host.store.list_pods()) == ["web-0", "web-1"]
    again = "cccccccc-2222-4333-8444-555555555555"
    env.put(sts_body(replicas=2), again)
    env.run(STS)
    assert env.names(again) == ["web-0", "web-1"]
    assert {n: env.record(n).uid for n in env.names(again)} == before
    assert len(env.runtime.running()) == len(before) * 2  # each pod's infra and app, as before


def test_a_daemonset_applied_again_adopts_its_orphaned_pod(env: Env) -> None:
    from kubeplay.engine import cascade

    env.put(ds_body(), DS_UID)
    env.run(DS)
    (pod,) = env.names(DS_UID)
    old = env.host.store.get_record_by_uid(DS_UID)
    assert old is not None
    cascade.orphan(env.host, old, now=env.clock())
    env.run(DS)
    again = "dddddddd-2222-4333-8444-555555555555"
    env.put(ds_body(), again)
    env.run(DS)
    assert env.names(again) == [pod]
