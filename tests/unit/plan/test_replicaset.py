"""The ReplicaSet controller's decisions (replica_set.go manageReplicas, controller_utils.go
ActivePodsWithRanks): replace missing and ended pods, delete the excess in rank order, and
count ready/available pods for its status."""

from __future__ import annotations

import pytest

from kubeplay.plan import replicaset as rs
from kubeplay.plan.replicaset import OwnedPod

NOW = 10_000.0


def pod(name: str, **kw: object) -> OwnedPod:
    base: dict[str, object] = {"created_at": NOW - 100, "ready": True, "ready_since": NOW - 90}
    base.update(kw)
    return OwnedPod(name=name, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("replicas", "pods", "create", "delete"),
    [
        pytest.param(3, [], 3, (), id="none-yet-creates-all"),
        pytest.param(3, [pod("a"), pod("b")], 1, (), id="a-deleted-pod-is-replaced"),
        pytest.param(2, [pod("a"), pod("b")], 0, (), id="at-replicas-nothing"),
        pytest.param(
            2,
            [pod("a"), pod("b"), pod("c", terminating=True)],
            0,
            (),
            id="terminating-pods-are-not-counted-nor-deleted-again",
        ),
        pytest.param(
            2,
            [pod("a"), pod("b", phase="Failed", ready=False)],
            1,
            ("b",),
            id="an-ended-pod-is-replaced-and-removed",
        ),
        pytest.param(
            1,
            [pod("a"), pod("b", created_at=NOW - 5000, ready_since=NOW - 4990)],
            0,
            ("a",),
            id="excess-newer-first",
        ),
        pytest.param(
            1,
            [pod("a", created_at=NOW - 5000), pod("b", ready=False)],
            0,
            ("b",),
            id="excess-not-ready-before-ready",
        ),
        pytest.param(
            1,
            [pod("a"), pod("b", phase="Pending", ready=False, created_at=NOW - 9000)],
            0,
            ("b",),
            id="excess-pending-before-running",
        ),
        pytest.param(
            1,
            [
                pod("a", phase="Pending", ready=False),
                pod("b", scheduled=False, phase="Pending", ready=False, created_at=NOW - 9000),
            ],
            0,
            ("b",),
            id="excess-unscheduled-before-scheduled",
        ),
        pytest.param(
            1,
            [pod("a", deletion_cost=10), pod("b", created_at=NOW - 9000)],
            0,
            ("b",),
            id="excess-lower-deletion-cost-first",
        ),
        pytest.param(
            1,
            [pod("a", ready_since=NOW - 8), pod("b", ready_since=NOW - 1000)],
            0,
            ("a",),
            id="excess-ready-for-less-time-first",
        ),
        pytest.param(
            1,
            [pod("a", restarts=0), pod("b", restarts=3)],
            0,
            ("b",),
            id="excess-more-restarts-first",
        ),
        pytest.param(
            0,
            [pod("a"), pod("b"), pod("c")],
            0,
            ("a", "b", "c"),
            id="scale-to-zero-deletes-all",
        ),
    ],
)
def test_compute_replicaset_actions(
    replicas: int, pods: list[OwnedPod], create: int, delete: tuple[str, ...]
) -> None:
    got = rs.compute_replicaset_actions(replicas, pods, now=NOW)
    assert (got.create, got.delete) == (create, delete)


def test_scale_down_of_fifty_keeps_the_oldest_ready() -> None:
    pods = [
        pod(f"p{i:02d}", created_at=NOW - 2000 + i * 100, ready_since=NOW - 1000) for i in range(20)
    ]
    got = rs.compute_replicaset_actions(5, pods, now=NOW)
    kept = sorted({p.name for p in pods} - set(got.delete))
    # newest first by log2 bucket of age: the five oldest buckets stay
    assert len(got.delete) == 15 and kept == ["p00", "p01", "p02", "p03", "p04"]


@pytest.mark.parametrize(
    ("raw", "cost"),
    [
        pytest.param(None, 0, id="unset"),
        pytest.param("100", 100, id="int"),
        pytest.param("-5", -5, id="negative"),
        pytest.param("abc", 0, id="not-a-number"),
        pytest.param("99999999999", 0, id="beyond-int32"),
    ],
)
def test_deletion_cost(raw: str | None, cost: int) -> None:
    annotations = {} if raw is None else {rs.DELETION_COST: raw}
    assert rs.deletion_cost(annotations) == cost


def test_available_needs_min_ready_seconds_and_requeues_for_it() -> None:
    pods = [pod("a", ready_since=NOW - 3), pod("b", ready_since=NOW - 30), pod("c", ready=False)]
    got = rs.compute_replicaset_actions(3, pods, min_ready_seconds=10, now=NOW)
    assert got.requeue_after == 7.0
    status = rs.compute_replicaset_status(
        pods, min_ready_seconds=10, observed_generation=2, now=NOW
    )
    assert status == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 1,
        "observedGeneration": 2,
    }
