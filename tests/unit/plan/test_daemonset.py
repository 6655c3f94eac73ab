"""compute_daemonset_actions on one node, table-tested after the DaemonSet controller's
tests (pkg/controller/daemon/daemon_controller_test.go, update_test.go): one pod where the
node matches, none elsewhere, failed pods replaced, rolling update with maxSurge 0 and 1."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kubeplay.plan import daemonset as ds
from kubeplay.plan.daemonset import DaemonPod, DeleteReason, PodDelete
from kubeplay.plan.revisions import Revision

NEW = Revision("agent-new", 2)
NOW = 1000.0


def spec(**kw: object) -> ds.DaemonSetSpec:
    base = ds.DaemonSetSpec(name="agent", namespace="default", uid="u-1")
    return replace(base, **kw)  # type: ignore[arg-type]


def pod(name: str, rev: str = "new", **kw: object) -> DaemonPod:
    base = DaemonPod(name=name, revision=rev, phase="Running", ready=True, ready_since=0.0)
    return replace(base, **kw)  # type: ignore[arg-type]


def gone(name: str, reason: DeleteReason) -> PodDelete:
    return PodDelete(name, reason)


SURGE = spec(max_surge=1, max_unavailable=0)

CASES = [
    pytest.param(spec(), [], True, True, (), id="eligible-node-gets-one-pod"),
    pytest.param(spec(), [pod("a")], True, False, (), id="one-pod-nothing-to-do"),
    pytest.param(spec(), [], False, False, (), id="ineligible-node-gets-none"),
    pytest.param(
        spec(),
        [pod("a")],
        False,
        False,
        (gone("a", DeleteReason.NOT_ELIGIBLE),),
        id="pod-on-ineligible-node-deleted",
    ),
    pytest.param(
        spec(),
        [pod("a", phase="Failed", ready=False)],
        True,
        False,
        (gone("a", DeleteReason.ENDED),),
        id="failed-pod-deleted-first",
    ),
    pytest.param(
        spec(),
        [pod("a", terminating=True)],
        True,
        False,
        (),
        id="no-new-pod-while-old-terminates",
    ),
    pytest.param(
        spec(),
        [pod("b", created_at=2.0), pod("a", created_at=1.0)],
        True,
        False,
        (gone("b", DeleteReason.EXTRA),),
        id="extra-pods-deleted-oldest-kept",
    ),
    pytest.param(
        spec(),
        [pod("a", "old")],
        True,
        False,
        (gone("a", DeleteReason.UPDATE),),
        id="rolling-update-deletes-old-first",
    ),
    pytest.param(
        spec(update_type=ds.ON_DELETE),
        [pod("a", "old")],
        True,
        False,
        (),
        id="on-delete-keeps-old-pod",
    ),
    pytest.param(
        spec(max_unavailable=0, max_surge=0),
        [pod("a", "old")],
        True,
        False,
        (gone("a", DeleteReason.UPDATE),),
        id="both-zero-means-unavailable-1",
    ),
    pytest.param(SURGE, [pod("a", "old")], True, True, (), id="surge-creates-new-first"),
    pytest.param(
        SURGE,
        [pod("a", "old"), pod("b", ready=False, created_at=5.0)],
        True,
        False,
        (),
        id="surge-waits-for-new-available",
    ),
    pytest.param(
        SURGE,
        [pod("a", "old"), pod("b", created_at=5.0)],
        True,
        False,
        (gone("a", DeleteReason.UPDATE),),
        id="surge-deletes-old-once-new-available",
    ),
    pytest.param(
        SURGE,
        [pod("a", "old", ready=False), pod("b", ready=False, created_at=5.0)],
        True,
        False,
        (gone("a", DeleteReason.UPDATE),),
        id="surge-unready-old-goes-at-once",
    ),
]


@pytest.mark.parametrize(("set_spec", "pods", "eligible", "create", "delete"), CASES)
def test_compute_daemonset_actions(
    set_spec: ds.DaemonSetSpec,
    pods: list[DaemonPod],
    eligible: bool,
    create: bool,
    delete: tuple[PodDelete, ...],
) -> None:
    got = ds.compute_daemonset_actions(set_spec, pods, NEW, eligible=eligible, now=NOW)
    assert (got.create, got.delete) == (create, delete)


def test_status_of_one_ready_pod() -> None:
    got = ds.compute_daemonset_actions(spec(), [pod("a")], NEW, eligible=True, now=NOW)
    assert got.status == {
        "currentNumberScheduled": 1,
        "desiredNumberScheduled": 1,
        "numberMisscheduled": 0,
        "numberReady": 1,
        "numberAvailable": 1,
        "updatedNumberScheduled": 1,
        "observedGeneration": 1,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (0, 0), ("25%", 1), ("100%", 1), ("0%", 0)],
)
def test_scaled_rounds_up(value: int | str, expected: int) -> None:
    assert ds.scaled(value, 1) == expected


NODE = {"kubernetes.io/hostname": "localhost", "kubernetes.io/os": "linux"}


@pytest.mark.parametrize(
    ("pod_spec", "expected"),
    [
        pytest.param({}, True, id="no-constraints"),
        pytest.param({"nodeSelector": {"kubernetes.io/os": "linux"}}, True, id="selector-match"),
        pytest.param({"nodeSelector": {"disk": "ssd"}}, False, id="selector-miss"),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/os",
                                            "operator": "In",
                                            "values": ["windows"],
                                        }
                                    ]
                                },
                                {
                                    "matchFields": [
                                        {
                                            "key": "metadata.name",
                                            "operator": "In",
                                            "values": ["localhost"],
                                        }
                                    ]
                                },
                            ]
                        }
                    }
                }
            },
            True,
            id="affinity-terms-ored",
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}
                            ]
                        }
                    }
                }
            },
            False,
            id="affinity-miss",
        ),
    ],
)
def test_node_matches(pod_spec: dict[str, object], expected: bool) -> None:
    assert ds.node_matches(pod_spec, node="localhost", labels=NODE) is expected


def test_pod_manifest_labels() -> None:
    rev = Revision("agent-7f9c", 1, {"metadata": {"labels": {"app": "a"}}, "spec": {}})
    body = ds.pod_manifest(spec(generation=3), rev, name="agent-x2b4c", node="localhost")
    assert body["metadata"]["labels"] == {
        "app": "a",
        ds.REVISION_LABEL: "7f9c",
        ds.TEMPLATE_GENERATION_LABEL: "3",
    }
    assert body["metadata"]["generateName"] == "agent-"
    assert body["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"


NAME_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["localhost"]}]}
        ]
    }
}


@pytest.mark.parametrize(
    ("pod_spec", "tolerations", "affinity"),
    [
        pytest.param(
            {},
            list(ds.DAEMON_TOLERATIONS),
            {"nodeAffinity": NAME_AFFINITY},
            id="daemon-tolerations-and-node-name-affinity",
        ),
        pytest.param(
            {"hostNetwork": True},
            [*ds.DAEMON_TOLERATIONS, ds.NETWORK_UNAVAILABLE],
            {"nodeAffinity": NAME_AFFINITY},
            id="host-network-tolerates-network-unavailable",
        ),
        pytest.param(
            {
                "tolerations": [
                    {"key": "gpu", "operator": "Exists"},
                    {
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 5,
                    },
                ]
            },
            [{"key": "gpu", "operator": "Exists"}, *ds.DAEMON_TOLERATIONS],
            {"nodeAffinity": NAME_AFFINITY},
            id="own-tolerations-kept-an-equal-one-replaced",
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/os",
                                            "operator": "In",
                                            "values": ["linux"],
                                        }
                                    ]
                                }
                            ]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}],
                    },
                    "podAntiAffinity": {"x": 1},
                }
            },
            list(ds.DAEMON_TOLERATIONS),
            {
                "nodeAffinity": {
                    **NAME_AFFINITY,
                    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}],
                },
                "podAntiAffinity": {"x": 1},
            },
            id="required-node-affinity-replaced-by-the-node-name",
        ),
    ],
)
def test_pod_manifest_tolerations_and_node_affinity(
    pod_spec: dict[str, Any], tolerations: list[dict[str, Any]], affinity: dict[str, Any]
) -> None:
    rev = Revision("agent-7f9c", 1, {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec})
    body = ds.pod_manifest(spec(), rev, name="agent-x2b4c", node="localhost")
    assert body["spec"]["tolerations"] == tolerations
    assert body["spec"]["affinity"] == affinity
