"""compute_statefulset_actions, table-tested after the StatefulSet controller's tests
(pkg/controller/statefulset/stateful_set_control_test.go: scale up/down in order, burst,
failed pods, rolling update with partition, OnDelete) and the pod/claim identity it gives.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeplay.plan import statefulset as sts
from kubeplay.plan.revisions import Revision, RevisionPlan
from kubeplay.plan.statefulset import DeleteReason, MemberPod, PodCreate, PodDelete

OLD = Revision("web-old", 1, {"spec": {"containers": [{"name": "c", "image": "a:1"}]}})
NEW = Revision("web-new", 2, {"spec": {"containers": [{"name": "c", "image": "a:2"}]}})
SAME = RevisionPlan(current=NEW, update=NEW)
ROLL = RevisionPlan(current=OLD, update=NEW)
NOW = 1000.0


def spec(**kw: object) -> sts.StatefulSetSpec:
    base = sts.StatefulSetSpec(name="web", namespace="default", uid="u-1", replicas=3)
    return replace(base, **kw)  # type: ignore[arg-type]


def ready(ordinal: int, rev: str = "web-new", **kw: object) -> MemberPod:
    pod = MemberPod(
        name=f"web-{ordinal}", revision=rev, phase="Running", ready=True, ready_since=0.0
    )
    return replace(pod, **kw)  # type: ignore[arg-type]


def pending(ordinal: int, rev: str = "web-new") -> MemberPod:
    return MemberPod(name=f"web-{ordinal}", revision=rev)


def creates(*ordinals: int, rev: str = "web-new", claims: bool = False) -> tuple[PodCreate, ...]:
    return tuple(
        PodCreate(o, f"web-{o}", rev, (f"data-web-{o}",) if claims else ()) for o in ordinals
    )


def deletes(reason: DeleteReason, *ordinals: int) -> tuple[PodDelete, ...]:
    return tuple(PodDelete(f"web-{o}", reason) for o in ordinals)


CASES = [
    pytest.param(spec(), [], SAME, creates(0), (), id="ordered-ready-creates-ordinal-0-first"),
    pytest.param(spec(), [pending(0)], SAME, (), (), id="ordered-ready-waits-for-pod-0-ready"),
    pytest.param(spec(), [ready(0)], SAME, creates(1), (), id="ordered-ready-next-after-ready"),
    pytest.param(
        spec(), [ready(0), ready(1), ready(2)], SAME, (), (), id="all-ready-nothing-to-do"
    ),
    pytest.param(spec(), [ready(0), pending(1)], SAME, (), (), id="unready-pod-halts-creation"),
    pytest.param(
        spec(), [ready(0, terminating=True)], SAME, (), (), id="terminating-pod-halts-creation"
    ),
    pytest.param(
        spec(),
        [ready(1)],
        SAME,
        creates(0),
        (),
        id="missing-lower-ordinal-made-again-first",
    ),
    pytest.param(
        spec(pod_management=sts.PARALLEL),
        [],
        SAME,
        creates(0, 1, 2),
        (),
        id="parallel-creates-all-at-once",
    ),
    pytest.param(
        spec(pod_management=sts.PARALLEL),
        [pending(0)],
        SAME,
        creates(1, 2),
        (),
        id="parallel-does-not-wait-for-ready",
    ),
    pytest.param(
        spec(replicas=1),
        [ready(0), ready(1), ready(2)],
        SAME,
        (),
        deletes(DeleteReason.SCALE_DOWN, 2),
        id="scale-down-highest-ordinal-first-one-at-a-time",
    ),
    pytest.param(
        spec(replicas=1),
        [ready(0), ready(1), ready(2, terminating=True)],
        SAME,
        (),
        (),
        id="scale-down-waits-for-termination",
    ),
    pytest.param(
        spec(replicas=1),
        [ready(0), ready(1), pending(2)],
        SAME,
        (),
        deletes(DeleteReason.SCALE_DOWN, 2),
        id="scale-down-removes-the-first-unhealthy-condemned",
    ),
    pytest.param(
        spec(replicas=1),
        [ready(0), pending(1), ready(2)],
        SAME,
        (),
        deletes(DeleteReason.SCALE_DOWN, 2),
        id="scale-down-of-a-healthy-pod-above-an-unhealthy-one",
    ),
    pytest.param(
        spec(replicas=0),
        [ready(0), pending(1)],
        SAME,
        (),
        deletes(DeleteReason.SCALE_DOWN, 1),
        id="scale-to-zero-unhealthy-highest-goes",
    ),
    pytest.param(
        spec(replicas=1),
        [pending(0), ready(1)],
        SAME,
        (),
        (),
        id="scale-down-blocked-by-unhealthy-replica",
    ),
    pytest.param(
        spec(replicas=1, pod_management=sts.PARALLEL),
        [ready(0), ready(1), pending(2)],
        SAME,
        (),
        deletes(DeleteReason.SCALE_DOWN, 2, 1),
        id="parallel-scale-down-all-at-once",
    ),
    pytest.param(
        spec(),
        [ready(0), replace(ready(1), phase="Failed", ready=False), ready(2)],
        SAME,
        (),
        deletes(DeleteReason.ENDED, 1),
        id="failed-pod-deleted-to-be-made-again",
    ),
    pytest.param(
        spec(),
        [ready(0), replace(ready(1), phase="Succeeded", ready=False)],
        SAME,
        (),
        deletes(DeleteReason.ENDED, 1),
        id="succeeded-pod-deleted-too",
    ),
    pytest.param(
        spec(),
        [ready(0, "web-old"), ready(1, "web-old"), ready(2, "web-old")],
        ROLL,
        (),
        deletes(DeleteReason.UPDATE, 2),
        id="rolling-update-starts-at-highest-ordinal",
    ),
    pytest.param(
        spec(),
        [ready(0, "web-old"), ready(1, "web-old")],
        ROLL,
        creates(2),
        (),
        id="rolling-update-remakes-deleted-pod-at-update-revision",
    ),
    pytest.param(
        spec(),
        [ready(0, "web-old"), ready(1, "web-old"), pending(2)],
        ROLL,
        (),
        (),
        id="rolling-update-waits-for-updated-pod-ready",
    ),
    pytest.param(
        spec(),
        [ready(0, "web-old"), ready(1, "web-old"), ready(2)],
        ROLL,
        (),
        deletes(DeleteReason.UPDATE, 1),
        id="rolling-update-next-lower-ordinal",
    ),
    pytest.param(
        spec(partition=2),
        [ready(0, "web-old"), ready(1, "web-old"), ready(2)],
        ROLL,
        (),
        (),
        id="partition-keeps-lower-ordinals",
    ),
    pytest.param(
        spec(partition=2),
        [ready(0, "web-old"), ready(2)],
        ROLL,
        creates(1, rev="web-old"),
        (),
        id="partition-remakes-lower-ordinal-at-current-revision",
    ),
    pytest.param(
        spec(update_type=sts.ON_DELETE),
        [ready(0, "web-old"), ready(1, "web-old"), ready(2, "web-old")],
        ROLL,
        (),
        (),
        id="on-delete-updates-nothing",
    ),
    pytest.param(
        spec(update_type=sts.ON_DELETE),
        [ready(0, "web-old"), ready(1, "web-old")],
        ROLL,
        creates(2),
        (),
        id="on-delete-remade-pod-gets-update-revision",
    ),
    pytest.param(
        spec(),
        [ready(0, "web-old"), ready(1, "web-old"), pending(2, "web-bad")],
        ROLL,
        (),
        (),
        id="broken-revision-pod-blocks-rollout-after-fix",
    ),
    pytest.param(
        spec(claim_templates=("data",)),
        [ready(0)],
        SAME,
        creates(1, claims=True),
        (),
        id="claims-made-with-pod",
    ),
    pytest.param(
        spec(start=5, replicas=2),
        [],
        SAME,
        (PodCreate(5, "web-5", "web-new"),),
        (),
        id="ordinals-start",
    ),
    pytest.param(
        spec(replicas=1, claim_templates=("data",), when_scaled=sts.DELETE),
        [ready(0), ready(1)],
        SAME,
        (),
        (PodDelete("web-1", DeleteReason.SCALE_DOWN, ("data-web-1",)),),
        id="when-scaled-delete-removes-claims",
    ),
    pytest.param(
        spec(replicas=1, claim_templates=("data",)),
        [ready(0), ready(1)],
        SAME,
        (),
        deletes(DeleteReason.SCALE_DOWN, 1),
        id="when-scaled-retain-keeps-claims",
    ),
    pytest.param(
        spec(),
        [MemberPod(name="other-0", phase="Running", ready=True), ready(0)],
        SAME,
        creates(1),
        (),
        id="pods-of-other-names-ignored",
    ),
]


@pytest.mark.parametrize(("set_spec", "pods", "revisions", "create", "delete"), CASES)
def test_compute_statefulset_actions(
    set_spec: sts.StatefulSetSpec,
    pods: list[MemberPod],
    revisions: RevisionPlan,
    create: tuple[PodCreate, ...],
    delete: tuple[PodDelete, ...],
) -> None:
    got = sts.compute_statefulset_actions(set_spec, pods, revisions, now=NOW)
    assert (got.create, got.delete) == (create, delete)


def test_broken_revision_names_the_pod_to_delete() -> None:
    pods = [ready(0, "web-old"), ready(1, "web-old"), pending(2, "web-bad")]
    got = sts.compute_statefulset_actions(spec(), pods, ROLL, now=NOW)
    assert got.stuck == "web-2"
    assert "kubeplay delete pod web-2" in got.waiting


def test_a_pod_of_the_update_revision_starting_is_not_stuck() -> None:
    pods = [ready(0, "web-old"), ready(1, "web-old"), pending(2)]
    got = sts.compute_statefulset_actions(spec(), pods, ROLL, now=NOW)
    assert (got.stuck, got.waiting) == ("", "waiting for pod web-2 to be Running and Ready")


def test_min_ready_seconds_holds_next_pod_and_requeues() -> None:
    pods = [ready(0, ready_since=NOW - 2)]
    got = sts.compute_statefulset_actions(spec(min_ready=5), pods, SAME, now=NOW)
    assert got.create == ()
    assert got.requeue_after == pytest.approx(3.0)
    later = sts.compute_statefulset_actions(spec(min_ready=5), pods, SAME, now=NOW + 3)
    assert later.create == creates(1)


@pytest.mark.parametrize(
    ("pods", "revisions", "expected"),
    [
        pytest.param(
            [ready(0), pending(1)],
            SAME,
            {
                "replicas": 2,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "currentReplicas": 2,
                "updatedReplicas": 2,
                "currentRevision": "web-new",
                "updateRevision": "web-new",
            },
            id="counts",
        ),
        pytest.param(
            [ready(0, "web-old"), ready(1)],
            ROLL,
            {
                "replicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "currentReplicas": 1,
                "updatedReplicas": 1,
                "currentRevision": "web-old",
                "updateRevision": "web-new",
            },
            id="mid-rollout",
        ),
        pytest.param(
            [ready(0), ready(1)],
            ROLL,
            {
                "replicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "currentReplicas": 2,
                "updatedReplicas": 2,
                "currentRevision": "web-new",
                "updateRevision": "web-new",
            },
            id="rollout-complete-moves-current-revision",
        ),
    ],
)
def test_status(
    pods: list[MemberPod], revisions: RevisionPlan, expected: dict[str, object]
) -> None:
    got = sts.compute_statefulset_actions(spec(replicas=2), pods, revisions, now=NOW).status
    assert {k: v for k, v in got.items() if k not in ("observedGeneration", "collisionCount")} == (
        expected
    )


def test_spec_of_reads_defaulted_fields() -> None:
    body = {
        "metadata": {"name": "db", "namespace": "prod", "generation": 4},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "podManagementPolicy": "Parallel",
            "ordinals": {"start": 1},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete"},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        },
    }
    got = sts.spec_of(body, uid="u")
    assert got == sts.StatefulSetSpec(
        name="db",
        namespace="prod",
        uid="u",
        replicas=2,
        start=1,
        pod_management="Parallel",
        partition=1,
        service_name="db",
        claim_templates=("data",),
        when_scaled="Delete",
        generation=4,
    )
    assert list(got.ordinals) == [1, 2]


def test_pod_manifest_identity() -> None:
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "web"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
        },
    }
    rev = Revision(
        "web-abc",
        1,
        {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "c", "image": "a"}],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
            },
        },
    )
    the_spec = sts.spec_of(body, uid="u-1")
    pod = sts.pod_manifest(body, the_spec, 2, rev)
    assert pod["metadata"]["name"] == "web-2"
    assert pod["metadata"]["labels"] == {
        "app": "web",
        sts.POD_NAME_LABEL: "web-2",
        sts.POD_INDEX_LABEL: "2",
        sts.REVISION_LABEL: "web-abc",
    }
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert pod["spec"]["hostname"] == "web-2"
    assert pod["spec"]["subdomain"] == "nginx"
    assert pod["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    claims = sts.claim_manifests(body, the_spec, 2)
    assert [c["metadata"]["name"] for c in claims] == ["data-web-2"]
    assert claims[0]["metadata"]["labels"] == {"app": "web"}


@pytest.mark.parametrize(
    ("name", "ordinal"),
    [("web-0", 0), ("web-12", 12), ("web-x", -1), ("webby-1", -1), ("web-a-1", -1), ("web", -1)],
)
def test_ordinal_of(name: str, ordinal: int) -> None:
    assert sts.ordinal_of("web", name) == ordinal
