"""The Deployment and ReplicaSet controllers on the loop beside the pod controller, with the
fakes and a real store (no root): a Deployment makes its ReplicaSet and pods, a deleted pod
is replaced, scaling follows replicas, a template change rolls out within the surge and
availability bounds, Recreate stops every old pod first, and a deleted Deployment takes its
ReplicaSets and pods with it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import ownedpods, reconcile
from kubeplay.engine.controllers.deployments import deployment_key
from kubeplay.engine.controllers.pods import PodController, pod_key
from kubeplay.engine.loop import Loop, ObjectKey
from kubeplay.kube import workloads
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.images import ImageConfig
from kubeplay.state.store import ObjectRecord, PodRecord
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host, new_uid


def _deployment(replicas: int = 3, *, mode: str = "a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "app",
                            "image": "busybox",
                            "command": ["sh"],
                            "env": [{"name": "MODE", "value": mode}],
                        }
                    ],
                },
            },
            **spec,
        },
    }


class Env:
    def __init__(self, tmp_path: Path) -> None:
        images = FakeImageStore({"busybox": ImageConfig(cmd=("sh",))})
        self.fakes: FakeHost = fake_host(tmp_path, clock=FakeClock(time.time()), images=images)
        self.host = self.fakes.host
        self.clock = self.fakes.clock
        self.runtime = self.fakes.runtime
        self.samples: list[tuple[int, int]] = []  # (pods not terminating, Ready ones)

        def sample(_rec: PodRecord) -> list[Any]:
            self.samples.append(self.counts())
            return []

        self.pods = PodController(
            self.host,
            policy=BackoffPolicy(base=10.0, cap=300.0),
            watchers=[ownedpods.owner_keys, sample],
        )
        self.controllers = reconcile.workload_controllers(self.host, clock=self.clock, wait=False)
        self.loop = Loop([self.pods, *self.controllers], workers=2, clock=self.clock, resync={})
        self.uid = new_uid()

    def counts(self) -> tuple[int, int]:
        from kubeplay.engine.controllers.replicasets import observe_pod

        live = [p for p in self.host.store.list_pods() if p.lifecycle != "terminating"]
        return len(live), sum(1 for p in live if observe_pod(self.host, p).ready)

    def put(self, body: dict[str, Any], *, generation: int = 1) -> None:
        old = self.host.store.get_record("apps", "Deployment", "default", "web")
        meta = {**body["metadata"], "uid": self.uid, "generation": generation}
        rec = ObjectRecord(
            uid=self.uid,
            api_group="apps",
            kind="Deployment",
            namespace="default",
            name="web",
            body={
                **body,
                "metadata": meta,
                **({"status": old.body["status"]} if old and "status" in old.body else {}),
            },
            source="apply:web.yaml",
            last_applied=body,
            generation=generation,
            created_at=old.created_at if old else self.clock(),
        )
        self.host.store.put_records([rec])

    def settle(self, *pods: str) -> None:
        async def run() -> None:
            self.loop.add(
                [deployment_key("default", "web"), *(pod_key("default", p) for p in pods)]
            )
            await self.loop.drain()

        asyncio.run(run())

    def pods_of(self) -> list[PodRecord]:
        return sorted(self.host.store.list_pods(), key=lambda p: p.name)

    def replicasets(self) -> list[ObjectRecord]:
        return self.host.store.list_records(["ReplicaSet"])

    def deployment(self) -> ObjectRecord:
        rec = self.host.store.get_record("apps", "Deployment", "default", "web")
        assert rec is not None
        return rec


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.host.close()


def test_a_deployment_makes_its_replicaset_and_running_pods(env: Env) -> None:
    body = _deployment(3)
    env.put(body)
    env.settle()
    template_hash = workloads.template_hash(body["spec"]["template"])
    (rs,) = env.replicasets()
    assert rs.name == f"web-{template_hash}"
    assert rs.owner_uid == env.uid
    assert rs.body["metadata"]["labels"] == {"app": "web", "pod-template-hash": template_hash}
    assert rs.body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = env.pods_of()
    assert len(pods) == 3
    for pod in pods:
        assert pod.name.startswith(f"web-{template_hash}-") and len(pod.name) == len(rs.name) + 6
        assert ownedpods.controller_ref(pod.manifest)["uid"] == rs.uid
        assert pod.manifest["metadata"]["labels"]["pod-template-hash"] == template_hash
    assert sorted(n for _, n in env.runtime.running() if n == "app") == ["app"] * 3
    status = env.deployment().body["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert [c["reason"] for c in status["conditions"]] == [
        "MinimumReplicasAvailable",
        "NewReplicaSetAvailable",
    ]
    made = env.host.store.list_events(rs.uid)
    assert {(e.kind, e.reason) for e in made} == {("ReplicaSet", "SuccessfulCreate")}
    scaled = env.host.store.list_events(env.uid)
    assert [(e.kind, e.reason, e.message) for e in scaled] == [
        ("Deployment", "ScalingReplicaSet", f"Scaled up replica set {rs.name} from 0 to 3")
    ]
    # the ReplicaSet's uid is the one kube.workloads derives: generate kube finds its pods
    owner = workloads.Workload(kind="Deployment", namespace="default", name="web", uid=env.uid,
                               manifest=body)  # fmt: skip
    assert all(workloads.owns(owner, p.manifest) for p in pods)


def test_a_resync_of_a_settled_deployment_syncs_each_object_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full pass over objects that changed nothing queues nothing more: a settled pod queues
    no ReplicaSet and a settled ReplicaSet no Deployment (an idle supervisor's resync)."""
    env.put(_deployment(2))
    env.settle()
    synced: list[str] = []
    for controller in [env.pods, *env.controllers]:

        def counted(key: ObjectKey, *, now: float, sync: Any = controller.sync) -> Any:
            synced.append(str(key))
            return sync(key, now=now)

        monkeypatch.setattr(controller, "sync", counted)

    async def resync() -> None:
        env.loop.request_full()
        await env.loop.drain()

    asyncio.run(resync())
    (rs,) = env.replicasets()
    pods = [f"pod/default/{p.name}" for p in env.pods_of()]
    assert sorted(synced) == sorted(
        ["deployment/default/web", f"replicaset/default/{rs.name}", *pods]
    )


def test_a_deleted_pod_is_replaced(env: Env) -> None:
    env.put(_deployment(2))
    env.settle()
    victim = env.pods_of()[0]
    ownedpods.delete(env.host, victim, now=env.clock())
    env.settle(victim.name)  # what a nudge naming the deleted pod does
    names = [p.name for p in env.pods_of()]
    assert len(names) == 2 and victim.name not in names
    assert env.deployment().body["status"]["availableReplicas"] == 2


def test_scale_up_and_down_follows_replicas(env: Env) -> None:
    env.put(_deployment(1))
    env.settle()
    (first,) = env.pods_of()
    env.clock.advance(60)
    env.put(_deployment(5), generation=2)
    env.settle()
    assert len(env.pods_of()) == 5
    env.put(_deployment(1), generation=3)
    env.settle()
    # the oldest pod stays (newer ones go first)
    assert [p.name for p in env.pods_of()] == [first.name]


@pytest.mark.parametrize(
    ("replicas", "strategy", "most", "least"),
    [
        pytest.param(3, {}, 4, 3, id="defaults-3-surge-1-unavailable-0"),
        pytest.param(
            4,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            4,
            3,
            id="surge-0-unavailable-1",
        ),
        pytest.param(
            2,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}},
            4,
            2,
            id="surge-100-percent",
        ),
    ],
)
def test_a_template_change_rolls_within_the_bounds(
    env: Env, replicas: int, strategy: dict[str, Any], most: int, least: int
) -> None:
    extra = {"strategy": strategy} if strategy else {}
    env.put(_deployment(replicas, **extra))
    env.settle()
    old = {p.name for p in env.pods_of()}
    env.samples.clear()
    env.put(_deployment(replicas, mode="b", **extra), generation=2)
    env.settle()
    pods = env.pods_of()
    assert len(pods) == replicas and old.isdisjoint(p.name for p in pods)
    assert env.samples, "no pod changed"
    assert max(n for n, _ in env.samples) <= most
    assert min(r for _, r in env.samples) >= least
    rss = sorted(env.replicasets(), key=lambda r: r.created_at)
    assert [r.body["spec"]["replicas"] for r in rss] == [0, replicas]
    assert rss[1].body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    status = env.deployment().body["status"]
    assert status["observedGeneration"] == 2 and status["updatedReplicas"] == replicas


def test_recreate_stops_every_old_pod_before_a_new_one_exists(env: Env) -> None:
    extra = {"strategy": {"type": "Recreate"}}
    env.put(_deployment(2, **extra))
    env.settle()
    env.samples.clear()
    env.put(_deployment(2, mode="b", **extra), generation=2)
    env.settle()
    assert len(env.pods_of()) == 2
    # the count went down to 0 before the new pods came
    counts = [n for n, _ in env.samples]
    assert 0 in counts and counts.index(0) < len(counts) - 1


def test_a_deleted_deployment_takes_its_replicasets_and_pods(env: Env) -> None:
    env.put(_deployment(2))
    env.settle()
    env.host.store.delete_records([env.uid])
    env.settle()

    async def drain() -> None:
        from kubeplay.engine.loop import ObjectKey

        env.loop.add([ObjectKey("ReplicaSet", "default", r) for r in ("x",)])
        env.loop.request_full()
        await env.loop.drain()

    asyncio.run(drain())
    assert env.replicasets() == []
    assert env.pods_of() == []
    assert env.runtime.running() == []


def test_revision_history_limit_prunes_old_replicasets(env: Env) -> None:
    extra = {"revisionHistoryLimit": 1}
    env.put(_deployment(1, **extra))
    env.settle()
    for i, mode in enumerate(("b", "c", "d"), start=2):
        env.put(_deployment(1, mode=mode, **extra), generation=i)
        env.settle()
    rss = sorted(env.replicasets(), key=lambda r: r.created_at)
    assert len(rss) == 2  # the current one and one old
    assert [
        r.body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rss
    ] == [
        "3",
        "4",
    ]


def test_a_template_changed_back_reuses_its_replicaset_with_a_new_revision(env: Env) -> None:
    env.put(_deployment(1))
    env.settle()
    first = {r.name for r in env.replicasets()}
    env.put(_deployment(1, mode="b"), generation=2)
    env.settle()
    env.put(_deployment(1), generation=3)
    env.settle()
    rss = {r.name: r for r in env.replicasets()}
    (name,) = first
    notes = rss[name].body["metadata"]["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "3"
    assert notes["deployment.kubernetes.io/revision-history"] == "1"
    assert rss[name].body["spec"]["replicas"] == 1


def test_scaling_in_the_middle_of_a_rollout_spreads_over_the_replicasets(env: Env) -> None:
    """3 replicas roll to a template whose pods never get Ready (1 new, 3 old); scaling to 6
    then grows both ReplicaSets in proportion (sync.go's scale), not only one of them."""
    env.put(_deployment(3))
    env.settle()
    never_ready = _deployment(3, mode="b")
    never_ready["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["false"]}
    }
    env.put(never_ready, generation=2)
    env.settle()
    by_age = sorted(env.replicasets(), key=lambda r: r.created_at)
    assert [r.body["spec"]["replicas"] for r in by_age] == [3, 1]
    never_ready["spec"]["replicas"] = 6
    env.put(never_ready, generation=3)
    env.settle()
    by_age = sorted(env.replicasets(), key=lambda r: r.created_at)
    # maxSurge 25 % of 6 = 2: 4 -> 8 pods shared 3:1 (old 6, new 2, the events below); the
    # rollout steps that follow remove an old pod (5 = 6 - 25 % available are enough) and add
    # a new one: 8 pods, none more
    assert [r.body["spec"]["replicas"] for r in by_age] == [5, 3]
    for rs in by_age:
        notes = rs.body["metadata"]["annotations"]
        assert notes["deployment.kubernetes.io/desired-replicas"] == "6"
        assert notes["deployment.kubernetes.io/max-replicas"] == "8"
    messages = [e.message for e in env.host.store.list_events(env.uid)]
    assert f"Scaled up replica set {by_age[0].name} from 3 to 6" in messages
    assert f"Scaled up replica set {by_age[1].name} from 1 to 2" in messages


def test_a_hash_collision_bumps_collision_count_and_names_another_replicaset(env: Env) -> None:
    """Another ReplicaSet already holds `web-<hash>`: the Deployment bumps
    status.collisionCount and its ReplicaSet is named with the hash that includes it; the
    other one is left alone, and a later sync finds the new one again (no second
    rollout)."""
    body = _deployment(2)
    template = body["spec"]["template"]
    squatter_name = f"web-{workloads.template_hash(template)}"
    squatter_uid = new_uid()
    env.host.store.put_records(
        [
            ObjectRecord(
                uid=squatter_uid,
                api_group="apps",
                kind="ReplicaSet",
                namespace="default",
                name=squatter_name,
                body={
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {"name": squatter_name, "namespace": "default"},
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": {"app": "other"}},
                        "template": {
                            "metadata": {"labels": {"app": "other"}},
                            "spec": {"containers": [{"name": "x", "image": "busybox"}]},
                        },
                    },
                },
                created_at=env.clock(),
            )
        ]
    )
    env.put(body)
    env.settle()
    assert env.deployment().body["status"]["collisionCount"] == 1
    mine = [r for r in env.replicasets() if r.owner_uid == env.uid]
    assert [r.name for r in mine] == [f"web-{workloads.template_hash(template, 1)}"]
    assert len(env.pods_of()) == 2
    squatter = env.host.store.get_record("apps", "ReplicaSet", "default", squatter_name)
    assert squatter is not None and squatter.uid == squatter_uid
    env.put(body, generation=2)
    env.settle()
    assert [r.name for r in env.replicasets() if r.owner_uid == env.uid] == [mine[0].name]


def test_an_orphaned_replicaset_keeps_its_pods_and_a_new_deployment_adopts_it(
    env: Env,
) -> None:
    """`delete deployment --cascade=orphan`: the ReplicaSet and its pods stay, without the
    ownerReference; the Deployment applied again (a new uid) adopts the ReplicaSet its
    selector matches (ClaimReplicaSets) and runs the same pods, no new ReplicaSet."""
    from kubeplay.engine import cascade

    env.put(_deployment(2))
    env.settle()
    pods = [p.name for p in env.pods_of()]
    (rs,) = env.replicasets()
    gone = cascade.orphan(env.host, env.deployment(), now=env.clock())
    assert gone == [f"replicaset/{rs.name}"]
    env.settle()
    (kept,) = env.replicasets()
    assert kept.uid == rs.uid and kept.owner_uid == ""
    assert "ownerReferences" not in kept.body["metadata"]
    assert [p.name for p in env.pods_of()] == pods  # still the ReplicaSet's
    env.uid = new_uid()
    env.put(_deployment(2))
    env.settle()
    (adopted,) = env.replicasets()
    assert adopted.uid == rs.uid and adopted.owner_uid == env.uid
    assert ownedpods.controller_ref(adopted.body)["uid"] == env.uid
    assert [p.name for p in env.pods_of()] == pods
    assert env.deployment().body["status"]["availableReplicas"] == 2


def _orphaned_pods(env: Env) -> tuple[ObjectRecord, list[str]]:
    """A Deployment's ReplicaSet and then its pods released (`--cascade=orphan` twice): the
    ReplicaSet's body as it was (without its owner) and the names of the pods left."""
    from kubeplay.engine import cascade

    env.put(_deployment(2))
    env.settle()
    cascade.orphan(env.host, env.deployment(), now=env.clock())
    (rs,) = env.replicasets()
    cascade.orphan(env.host, rs, now=env.clock())
    return rs, [p.name for p in env.pods_of()]


def _reapply(env: Env, rs: ObjectRecord, *, replicas: int) -> ObjectRecord:
    """The ReplicaSet applied again (a new uid) with `replicas`, and its controller run."""
    from kubeplay.engine.controllers.replicasets import rs_key

    body = {**rs.body, "spec": {**rs.body["spec"], "replicas": replicas}}
    again = ObjectRecord(
        uid=new_uid(),
        api_group="apps",
        kind="ReplicaSet",
        namespace="default",
        name=rs.name,
        body={**body, "metadata": {**body["metadata"], "uid": "x"}},
        source="apply:rs.yaml",
        last_applied=body,
        created_at=env.clock(),
    )
    env.host.store.put_records([again])

    async def run() -> None:
        env.loop.add([rs_key("default", rs.name)])
        await env.loop.drain()

    asyncio.run(run())
    return again


def test_a_replicaset_applied_again_adopts_the_pods_an_orphaning_delete_left(env: Env) -> None:
    """ClaimPods: the pods a `delete rs --cascade=orphan` released, whose labels a new
    ReplicaSet's selector matches, become its own (ownerReference, object row); it makes
    no new pod."""
    rs, pods = _orphaned_pods(env)
    again = _reapply(env, rs, replicas=2)
    kept = env.pods_of()
    assert [p.name for p in kept] == pods
    for pod in kept:
        assert ownedpods.controller_ref(pod.manifest)["uid"] == again.uid
        row = env.host.store.get_record("", "Pod", "default", pod.name)
        assert row is not None and row.owner_uid == again.uid and row.source == ""


def test_a_replicaset_that_adopts_more_pods_than_it_wants_deletes_the_extra(env: Env) -> None:
    rs, pods = _orphaned_pods(env)
    again = _reapply(env, rs, replicas=1)
    live = [p for p in env.pods_of() if p.lifecycle != "terminating"]
    assert len(live) == 1 and live[0].name in pods
    assert ownedpods.controller_ref(live[0].manifest)["uid"] == again.uid


def test_a_pod_a_manifest_made_is_not_adopted(env: Env) -> None:
    """A pod that `play`, `apply` or a watched source made stays its manifest's (kubeplay
    keeps the file's ownership; a cluster's ReplicaSet would adopt it: docs)."""
    from kubeplay.state.pods import pod_row

    rs, _ = _orphaned_pods(env)
    played = env.pods_of()[0]
    env.host.store.put_records([pod_row(played, source="play:pod.yaml")])
    again = _reapply(env, rs, replicas=2)
    owners = {p.name: ownedpods.controller_ref(p.manifest).get("uid") for p in env.pods_of()}
    assert owners[played.name] is None
    assert sum(1 for uid in owners.values() if uid == again.uid) == 2  # the other, and a new one


def test_an_orphaned_replicasets_pods_lose_their_owner_and_stay(env: Env) -> None:
    from kubeplay.engine import cascade

    env.put(_deployment(2))
    env.settle()
    (rs,) = env.replicasets()
    names = cascade.orphan(env.host, rs, now=env.clock())
    pods = env.pods_of()
    assert sorted(names) == sorted(f"pod/{p.name}" for p in pods) and len(pods) == 2
    for pod in pods:
        assert "ownerReferences" not in pod.manifest["metadata"]
        row = env.host.store.get_record("", "Pod", "default", pod.name)
        assert row is not None and row.owner_uid == ""
