"""generate kube of StatefulSets and DaemonSets: a pod they own comes back as them (by name
or with no name), they come back as applied, without status or server metadata."""

from __future__ import annotations

from typing import Any

from kubeplay.plan import generate
from kubeplay.plan.generate import PlayedPod

STS: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web", "uid": "u-1", "generation": 2},
    "spec": {
        "replicas": 2,
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        },
    },
    "status": {"replicas": 2},
}


def _pod(name: str, owner_kind: str, owner: str) -> PlayedPod:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "web"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": owner_kind, "name": owner, "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    }
    return PlayedPod(namespace="default", name=name, manifest=manifest)


PODS = [_pod("web-0", "StatefulSet", "web"), _pod("web-1", "StatefulSet", "web")]
STORED = {("StatefulSet", "default", "web"): STS}


def _kinds(objects: tuple[dict[str, Any], ...]) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def test_everything_gives_the_set_not_its_pods() -> None:
    got = generate.generate_kube((), namespace="default", pods=PODS, workloads=[], stored=STORED)
    assert _kinds(got.objects) == [("StatefulSet", "web")]
    (sts,) = got.objects
    assert "status" not in sts
    assert sts["metadata"] == {"name": "web"}
    assert sts["spec"] == STS["spec"]


def test_a_pod_of_the_set_comes_back_as_the_set() -> None:
    got = generate.generate_kube(
        ("web-1", "sts/web"), namespace="default", pods=PODS, workloads=[], stored=STORED
    )
    assert _kinds(got.objects) == [("StatefulSet", "web")]


def test_a_pod_of_a_daemonset_comes_back_as_the_daemonset() -> None:
    ds = {**STS, "kind": "DaemonSet", "metadata": {"name": "agent"}}
    ds["spec"] = {k: v for k, v in STS["spec"].items() if k in ("selector", "template")}
    got = generate.generate_kube(
        ("agent-x2b4c",),
        namespace="default",
        pods=[_pod("agent-x2b4c", "DaemonSet", "agent")],
        workloads=[],
        stored={("DaemonSet", "default", "agent"): ds},
    )
    assert _kinds(got.objects) == [("DaemonSet", "agent")]
