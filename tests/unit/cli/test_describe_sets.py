"""`describe statefulset|daemonset`'s layout (kubectl's StatefulSetDescriber and
DaemonSetDescriber): counts from the status the controller wrote, pods by phase, the pod
template and the volume claims."""

from __future__ import annotations

from typing import Any

from kubeplay.cli import describe

STS: dict[str, Any] = {
    "kind": "StatefulSet",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "creationTimestamp": "2026-12-06T09:00:00Z",
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "busybox",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ]
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    },
    "status": {"replicas": 2},
}


def test_statefulset() -> None:
    text = describe.describe_set(STS, ("Running", "Pending"))
    lines = text.splitlines()
    assert "Selector:           app=web" in lines
    assert "Replicas:           3 desired | 2 total" in lines
    assert "  Partition:        1" in lines
    assert "Pods Status:        1 Running / 1 Waiting / 0 Succeeded / 0 Failed" in lines
    assert "      /data from data (rw)" in lines
    assert "CreationTimestamp:  Sun, 06 Dec 2026 09:00:00 +0000" in lines
    assert "  Capacity:      1Gi" in lines
    assert "  Access Modes:  [ReadWriteOnce]" in lines


def test_daemonset() -> None:
    body = {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": STS["spec"]["selector"], "template": STS["spec"]["template"]},
        "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1},
    }
    lines = describe.describe_set(body, ("Running",)).splitlines()
    assert "Node-Selector:  <none>" in lines
    assert not any(line.startswith("CreationTimestamp") for line in lines)  # as kubectl
    assert "Desired Number of Nodes Scheduled: 1" in lines
    assert "Number of Nodes Scheduled with Available Pods: 0" in lines
    # after lines without a tab, its own tabwriter block
    assert "Pods Status:  1 Running / 0 Waiting / 0 Succeeded / 0 Failed" in lines
