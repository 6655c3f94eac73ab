"""The Deployment controller's decisions (pkg/controller/deployment): fenceposts, rolling
steps that never break the availability and surge bounds, Recreate, paused, revisions,
revisionHistoryLimit and the Progressing/Available conditions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeplay.plan import deployment as dep
from kubeplay.plan.deployment import DeploymentSpec, ReplicaSetView

NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "want"),
    [
        pytest.param("25%", "25%", 1, (1, 0), id="defaults-1"),
        pytest.param("25%", "25%", 2, (1, 0), id="defaults-2"),
        pytest.param("25%", "25%", 3, (1, 0), id="defaults-3"),
        pytest.param("25%", "25%", 4, (1, 1), id="defaults-4"),
        pytest.param("25%", "25%", 10, (3, 2), id="defaults-10"),
        pytest.param(0, 0, 3, (0, 1), id="both-zero-means-unavailable-1"),
        pytest.param("0%", "0%", 10, (0, 1), id="both-zero-percent"),
        pytest.param(1, 0, 1, (1, 0), id="ints-1"),
        pytest.param(2, 1, 2, (2, 1), id="ints-2"),
        pytest.param(0, 1, 3, (0, 1), id="surge-0-ints-3"),
        pytest.param(5, 5, 10, (5, 5), id="ints-10"),
        pytest.param("50%", "50%", 1, (1, 0), id="half-of-1"),
        pytest.param("50%", "50%", 3, (2, 1), id="half-of-3"),
        pytest.param("10%", "10%", 2, (1, 0), id="ten-percent-of-2"),
        pytest.param("100%", "0%", 10, (10, 0), id="all-surge"),
        pytest.param("0%", "100%", 10, (0, 10), id="all-unavailable"),
    ],
)
def test_resolve_fenceposts(
    surge: int | str, unavailable: int | str, replicas: int, want: tuple[int, int]
) -> None:
    assert dep.resolve_fenceposts(surge, unavailable, replicas) == want


def _rs(name: str, replicas: int, *, available: int | None = None, age: float = 0.0,
        revision: int = 1, pods: int | None = None) -> ReplicaSetView:  # fmt: skip
    pods = replicas if pods is None else pods
    return ReplicaSetView(
        name=name,
        template_hash=name.split("-")[-1],
        replicas=replicas,
        created_at=NOW - 1000 + age,
        revision=revision,
        pods=pods,
        ready=replicas if available is None else available,
        available=replicas if available is None else available,
        all_pods=pods,
    )


def _step(spec: DeploymentSpec, rss: list[ReplicaSetView], new_hash: str) -> dep.DeploymentActions:
    return dep.compute_deployment_actions(spec, rss, new_hash=new_hash, now=NOW)


def test_first_sync_creates_the_replicaset_with_every_replica() -> None:
    got = _step(DeploymentSpec(name="web", replicas=3), [], "aaa")
    assert got.create == dep.NewReplicaSet("web-aaa", "aaa", 3, 1)
    assert got.rolling
    progressing = [c for c in got.status["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["reason"] == "NewReplicaSetCreated"
    assert progressing[0]["message"] == 'Created new replica set "web-aaa"'


def _simulate(spec: DeploymentSpec, *, old_replicas: int) -> list[tuple[int, int]]:
    """Roll old -> new, pods becoming available at once after each step; (new, old) spec
    replicas after each step, checking the bounds on every one."""
    surge, unavailable = dep.resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    rss = [_rs("web-old", old_replicas, revision=1)]
    steps: list[tuple[int, int]] = []
    for _ in range(50):
        got = _step(spec, rss, "new")
        if got.create is not None:
            rss.append(_rs("web-new", got.create.replicas, available=0, age=10, revision=2))
        rss = [replace(r, replicas=got.scale.get(r.name, r.replicas)) for r in rss]
        # pods: a scale-down removes them at once; a scale-up adds unavailable ones
        rss = [replace(r, pods=r.replicas, all_pods=r.replicas,
                       available=min(r.available, r.replicas), ready=min(r.ready, r.replicas))
               for r in rss]  # fmt: skip
        total = sum(r.pods for r in rss)
        available = sum(r.available for r in rss)
        assert total <= spec.replicas + surge, rss
        assert available >= min(old_replicas, spec.replicas) - unavailable, rss
        new = {r.name: r.replicas for r in rss}
        step = (new.get("web-new", 0), new.get("web-old", 0))
        if steps and step == steps[-1]:
            # nothing changed: the new pods become available, then look again
            rss = [replace(r, available=r.replicas, ready=r.replicas) for r in rss]
            if all(r.available == r.replicas for r in rss) and step == (spec.replicas, 0):
                break
            continue
        steps.append(step)
    return steps


def test_rolling_3_replicas_at_the_defaults_takes_three_ready_gated_steps() -> None:
    steps = _simulate(DeploymentSpec(name="web", replicas=3), old_replicas=3)
    assert steps == [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [
        pytest.param(r, s, u, id=f"replicas-{r}-surge-{s}-unavailable-{u}")
        for r in (1, 2, 3, 10)
        for s, u in (("25%", "25%"), (1, 0), (0, 1), ("50%", "0%"), (2, 2), (0, 0))
    ],
)
def test_rolling_never_breaks_the_bounds_and_finishes(
    replicas: int, surge: int | str, unavailable: int | str
) -> None:
    spec = DeploymentSpec(
        name="web", replicas=replicas, max_surge=surge, max_unavailable=unavailable
    )
    steps = _simulate(spec, old_replicas=replicas)
    assert steps[-1] == (replicas, 0)


def test_unhealthy_old_replicas_are_removed_first() -> None:
    spec = DeploymentSpec(name="web", replicas=3, max_surge=0, max_unavailable=1)
    rss = [_rs("web-old", 3, available=1), _rs("web-new", 0, available=0, age=10, revision=2)]
    got = _step(spec, rss, "new")
    # minAvailable 2, all pods 3: maxScaledDown 1 taken by an unavailable old pod
    assert got.scale == {"web-old": 2}


def test_scale_up_and_down_of_a_finished_deployment() -> None:
    rss = [_rs("web-aaa", 1)]
    assert _step(DeploymentSpec(name="web", replicas=50), rss, "aaa").scale == {"web-aaa": 50}
    rss = [_rs("web-aaa", 50)]
    assert _step(DeploymentSpec(name="web", replicas=1), rss, "aaa").scale == {"web-aaa": 1}


def test_recreate_stops_old_pods_before_the_new_replicaset_exists() -> None:
    spec = DeploymentSpec(name="web", replicas=2, strategy="Recreate")
    rss = [_rs("web-old", 2)]
    got = _step(spec, rss, "new")
    assert (got.create, dict(got.scale)) == (None, {"web-old": 0})
    # old scaled to 0 but a pod still terminating: wait
    got = _step(
        spec,
        [_rs("web-old", 0, pods=0) if False else replace(_rs("web-old", 0), all_pods=1)],
        "new",
    )
    assert (got.create, dict(got.scale)) == (None, {})
    got = _step(spec, [_rs("web-old", 0)], "new")
    assert got.create == dep.NewReplicaSet("web-new", "new", 2, 2)


def test_paused_scales_but_does_not_roll() -> None:
    spec = DeploymentSpec(name="web", replicas=4, paused=True)
    got = _step(spec, [_rs("web-old", 2)], "new")
    assert got.create is None and dict(got.scale) == {"web-old": 4}
    progressing = next(c for c in got.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


def test_rollback_to_an_old_template_gives_it_the_next_revision() -> None:
    rss = [_rs("web-aaa", 0, revision=1, pods=0), _rs("web-bbb", 2, revision=2)]
    got = _step(DeploymentSpec(name="web", replicas=2), rss, "aaa")
    assert dict(got.revision) == {"web-aaa": (3, "1")}
    assert got.create is None


def test_revision_history_limit_deletes_the_oldest_idle_replicasets() -> None:
    rss = [_rs(f"web-r{i}", 0, revision=i, pods=0) for i in range(1, 5)]
    rss.append(_rs("web-cur", 2, revision=5))
    got = _step(DeploymentSpec(name="web", replicas=2, revision_history_limit=2), rss, "cur")
    assert got.delete == ("web-r1", "web-r2")


def test_complete_status_and_conditions() -> None:
    got = _step(DeploymentSpec(name="web", replicas=2, generation=3), [_rs("web-aaa", 2)], "aaa")
    assert {k: v for k, v in got.status.items() if k != "conditions"} == {
        "observedGeneration": 3,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "unavailableReplicas": 0,
    }
    kinds = [(c["type"], c["status"], c["reason"]) for c in got.status["conditions"]]
    assert kinds == [
        ("Available", "True", "MinimumReplicasAvailable"),
        ("Progressing", "True", "NewReplicaSetAvailable"),
    ]
    progressing = got.status["conditions"][1]
    assert progressing["message"] == 'ReplicaSet "web-aaa" has successfully progressed.'
    again = dep.compute_deployment_actions(
        DeploymentSpec(name="web", replicas=2, generation=3),
        [_rs("web-aaa", 2)],
        new_hash="aaa",
        status=got.status,
        now=NOW + 5,
    )
    assert again.status["conditions"] == got.status["conditions"]  # nothing new: kept as is
    assert not again.rolling and again.requeue_after is None


def test_no_progress_past_the_deadline_is_progress_deadline_exceeded() -> None:
    spec = DeploymentSpec(name="web", replicas=2, progress_deadline_seconds=10)
    rss = [_rs("web-old", 2, revision=1), _rs("web-new", 1, available=0, revision=2, age=5)]
    first = dep.compute_deployment_actions(spec, rss, new_hash="new", now=NOW)
    cond = next(c for c in first.status["conditions"] if c["type"] == "Progressing")
    assert cond["status"] == "True"
    # nothing moves for the deadline: a look after it times out
    later = dep.compute_deployment_actions(
        spec, rss, new_hash="new", status=first.status, now=NOW + 5
    )
    assert later.requeue_after is not None and 5 <= later.requeue_after <= 7
    late = dep.compute_deployment_actions(
        spec, rss, new_hash="new", status=first.status, now=NOW + 11
    )
    cond = next(c for c in late.status["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "ProgressDeadlineExceeded",
        'ReplicaSet "web-new" has timed out progressing.',
    )
    assert not late.rolling


def test_replicaset_annotations() -> None:
    body = {"metadata": {"annotations": {"team": "a", dep.LAST_APPLIED: "{}", dep.REVISION: "9"}}}
    assert dep.replicaset_annotations(body, replicas=3, max_replicas=4, revision=2) == {
        "team": "a",
        dep.DESIRED_REPLICAS: "3",
        dep.MAX_REPLICAS: "4",
        dep.REVISION: "2",
    }


def test_spec_of_a_deployment_body() -> None:
    body = {
        "metadata": {"name": "web", "generation": 4},
        "spec": {
            "replicas": 5,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "10%"},
            },
            "minReadySeconds": 3,
            "paused": True,
        },
    }
    assert dep.spec_of(body) == DeploymentSpec(
        name="web", replicas=5, max_surge=2, max_unavailable="10%", min_ready_seconds=3,
        paused=True, generation=4,
    )  # fmt: skip


# --- proportional scaling (sync.go's scale; cases from its TestScale) -----------------------

NEWER, OLD, OLDER = NOW - 10, NOW - 20, NOW - 30


def _sized(
    name: str, replicas: int, created: float, *, was: int, surge_was: int = 0
) -> ReplicaSetView:
    """A ReplicaSet sized by the Deployment when it had `was` replicas and maxSurge
    `surge_was` (its desired-replicas and max-replicas annotations)."""
    return ReplicaSetView(
        name=name,
        template_hash=name,
        replicas=replicas,
        created_at=created,
        pods=replicas,
        ready=replicas,
        available=replicas,
        all_pods=replicas,
        desired=was,
        max_replicas=was + surge_was,
    )


@pytest.mark.parametrize(
    ("replicas", "surge", "was", "surge_was", "new", "old", "want"),
    [
        pytest.param(12, 0, 10, 0, ("v1", 10), [], {"v1": 12}, id="one-replicaset-10-to-12"),
        pytest.param(5, 0, 10, 0, ("v1", 10), [], {"v1": 5}, id="one-replicaset-10-to-5"),
        pytest.param(10, 0, 5, 0, ("v2", 2), [("v1", 3)], {"v2": 4, "v1": 6},
                     id="proportional-5-to-10"),
        pytest.param(3, 0, 5, 0, ("v2", 2), [("v1", 3)], {"v2": 1, "v1": 2},
                     id="proportional-5-to-3"),
        pytest.param(4, 0, 9, 0, ("v2", 8), [("v1", 1)], {"v2": 4, "v1": 0},
                     id="proportional-9-to-4"),
        pytest.param(10, 0, 7, 0, ("v3", 2), [("v2", 3), ("v1", 2)],
                     {"v3": 3, "v2": 4, "v1": 3}, id="proportional-7-to-10"),
        pytest.param(8, 0, 13, 0, ("v3", 2), [("v2", 8), ("v1", 3)],
                     {"v3": 1, "v2": 5, "v1": 2}, id="proportional-13-to-8"),
        pytest.param(4, 0, 3, 0, ("v3", 1), [("v2", 1), ("v1", 1)],
                     {"v3": 2, "v2": 1, "v1": 1}, id="leftover-up-goes-to-the-newest"),
        pytest.param(2, 0, 3, 0, ("v3", 1), [("v2", 1), ("v1", 1)],
                     {"v3": 1, "v2": 1, "v1": 0}, id="leftover-down-comes-from-the-oldest"),
        pytest.param(5, 0, 4, 0, None, [("v2", 2), ("v1", 2)], {"v2": 3, "v1": 2},
                     id="no-new-replicaset-newest-first"),
        pytest.param(0, 0, 6, 0, ("v3", 3), [("v2", 2), ("v1", 1)],
                     {"v3": 0, "v2": 0, "v1": 0}, id="down-to-zero"),
        pytest.param(6, 0, 6, 0, ("v3", 0), [("v2", 0), ("v1", 0)], {"v3": 6},
                     id="up-from-zero-only-the-new-one"),
        pytest.param(20, 2, 10, 2, ("v2", 6), [("v1", 6)], {"v2": 11, "v1": 11},
                     id="with-surge-pods"),
        pytest.param(50, 6, 10, 3, ("v2", 5), [("v1", 8)], {"v2": 22, "v1": 34},
                     id="surge-and-size-both-change"),
    ],
)  # fmt: skip
def test_scale_replicasets(
    replicas: int,
    surge: int,
    was: int,
    surge_was: int,
    new: tuple[str, int] | None,
    old: list[tuple[str, int]],
    want: dict[str, int],
) -> None:
    spec = DeploymentSpec(name="foo", replicas=replicas, max_surge=surge, max_unavailable=0)
    created = iter((OLD, OLDER))
    new_rs = _sized(new[0], new[1], NEWER, was=was, surge_was=surge_was) if new else None
    old_rss = [_sized(n, r, next(created), was=was, surge_was=surge_was) for n, r in old]
    got = dep.scale_replicasets(spec, new_rs, old_rss)
    sizes = {r.name: r.replicas for r in [*([new_rs] if new_rs else []), *old_rss]}
    assert {**sizes, **got} == {**sizes, **want}


def test_scale_of_a_template_changed_at_once_scales_the_old_ones_first() -> None:
    """The template and replicas change together: the scaling event comes first (no new
    ReplicaSet yet), the old ones share 10 -> 14; the rollout follows in the next sync."""
    spec = DeploymentSpec(name="foo", replicas=14, max_surge=0, max_unavailable=0)
    rss = [_sized("v2", 7, NEWER, was=10), _sized("v1", 3, OLD, was=10)]
    got = dep.compute_deployment_actions(spec, rss, new_hash="v3", now=NOW)
    assert got.create is None
    assert dict(got.scale) == {"v2": 10, "v1": 4}
    assert got.requeue_after == 0.0


def test_a_saturated_new_replicaset_scales_the_old_ones_to_zero() -> None:
    spec = DeploymentSpec(name="foo", replicas=2, max_surge=1, max_unavailable=1)
    new = _sized("v2", 2, NEWER, was=2)
    assert dep.scale_replicasets(spec, new, [_sized("v1", 1, OLD, was=2)]) == {"v1": 0}
    broken = replace(new, available=0)  # not saturated, 3 = replicas + surge: sizes kept
    assert dep.scale_replicasets(spec, broken, [_sized("v1", 1, OLD, was=2)]) == {
        "v2": 2,
        "v1": 1,
    }


def test_no_scaling_event_when_every_active_replicaset_was_sized_for_these_replicas() -> None:
    spec = DeploymentSpec(name="foo", replicas=3)
    assert not dep.is_scaling_event(
        spec, [_sized("v2", 1, NEWER, was=3), _sized("v1", 0, OLD, was=5)]
    )
    assert dep.is_scaling_event(spec, [_sized("v2", 1, NEWER, was=3), _sized("v1", 2, OLD, was=5)])
