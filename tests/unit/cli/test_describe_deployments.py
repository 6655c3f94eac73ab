"""`describe deployment|replicaset`'s layout (kubectl's DeploymentDescriber and
ReplicaSetDescriber, aligned by Go's tabwriter): counts from the status the controllers
wrote, the pod template, the conditions table and the old and new ReplicaSets."""

from __future__ import annotations

import copy
from typing import Any

from kubeplay.cli import describe
from kubeplay.kube import workloads

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "nginx"}},
    "spec": {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.14.2",
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1},
            }
        ]
    },
}
HASH = workloads.template_hash(TEMPLATE)
DEPLOYMENT: dict[str, Any] = {
    "kind": "Deployment",
    "metadata": {
        "name": "nginx",
        "namespace": "default",
        "creationTimestamp": "2026-12-06T09:00:00Z",
        "labels": {"app": "nginx"},
        "annotations": {
            "deployment.kubernetes.io/revision": "2",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": TEMPLATE,
    },
    "status": {
        "replicas": 4,
        "updatedReplicas": 1,
        "availableReplicas": 3,
        "unavailableReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
        ],
    },
}


def _rs(name: str, template_hash: str, replicas: int, current: int) -> dict[str, Any]:
    """A ReplicaSet of the Deployment's template (HASH) or of an older one."""
    template = copy.deepcopy(TEMPLATE)
    template["metadata"]["labels"][workloads.TEMPLATE_HASH_LABEL] = template_hash
    if template_hash != HASH:
        template["spec"]["containers"][0]["image"] = f"nginx:{template_hash}"
    return {
        "metadata": {"name": name, "labels": {workloads.TEMPLATE_HASH_LABEL: template_hash}},
        "spec": {"replicas": replicas, "template": template},
        "status": {"replicas": current},
    }


def test_deployment_in_the_middle_of_a_rollout() -> None:
    rss = [
        _rs("nginx-old", "old", 3, 3),
        _rs("nginx-older", "older", 0, 0),  # scaled to 0, no pods: not listed
        _rs(f"nginx-{HASH}", HASH, 1, 1),
    ]
    assert describe.describe_deployment(DEPLOYMENT, rss).splitlines() == [
        "Name:                   nginx",
        "Namespace:              default",
        "CreationTimestamp:      Sun, 06 Dec 2026 09:00:00 +0000",
        "Labels:                 app=nginx",
        "Annotations:            deployment.kubernetes.io/revision: 2",
        "Selector:               app=nginx",
        "Replicas:               3 desired | 1 updated | 4 total | 3 available | 1 unavailable",
        "StrategyType:           RollingUpdate",
        "MinReadySeconds:        0",
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
        "Pod Template:",
        "  Labels:  app=nginx",
        "  Containers:",
        "   nginx:",
        "    Image:         nginx:1.14.2",
        "    Port:          80/TCP",
        "    Host Port:     0/TCP",
        "    Readiness:     exec [true] delay=0s timeout=1s period=1s #success=1 #failure=3",
        "    Environment:   <none>",
        "    Mounts:        <none>",
        "  Volumes:         <none>",
        "  Node-Selectors:  <none>",
        "  Tolerations:     <none>",
        "Conditions:",
        "  Type           Status  Reason",
        "  ----           ------  ------",
        "  Available      True    MinimumReplicasAvailable",
        "  Progressing    True    ReplicaSetUpdated",
        "OldReplicaSets:  nginx-old (3/3 replicas created)",
        f"NewReplicaSet:   nginx-{HASH} (1/1 replicas created)",
    ]


def test_deployment_without_events_aligns_events_none_with_the_replicasets() -> None:
    rss = [_rs(f"nginx-{HASH}", HASH, 3, 3)]
    lines = describe.describe_deployment(DEPLOYMENT, rss, no_events=True).splitlines()
    assert lines[-3:] == [
        "OldReplicaSets:  <none>",
        f"NewReplicaSet:   nginx-{HASH} (3/3 replicas created)",
        "Events:          <none>",
    ]


def test_deployment_recreate_has_no_rolling_update_line() -> None:
    body = copy.deepcopy(DEPLOYMENT)
    body["spec"]["strategy"] = {"type": "Recreate"}
    lines = describe.describe_deployment(body, [])
    assert "StrategyType:       Recreate" in lines.splitlines()
    assert "RollingUpdateStrategy" not in lines
    assert "NewReplicaSet" not in lines  # no ReplicaSet yet: neither line, as kubectl


def test_deployment_int_fenceposts_and_several_labels() -> None:
    body = copy.deepcopy(DEPLOYMENT)
    body["metadata"]["labels"] = {"app": "nginx", "tier": "web"}
    body["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    lines = describe.describe_deployment(body, []).splitlines()
    assert "RollingUpdateStrategy:  0 max unavailable, 1 max surge" in lines
    assert lines[3:5] == ["Labels:                 app=nginx", "                        tier=web"]


def test_pod_template_command_env_and_mounts() -> None:
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c", "sleep 1"],
                    "env": [
                        {"name": "MODE", "value": "a"},
                        {
                            "name": "POD",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                    ],
                    "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }
    text = describe.tabwrite(describe.pod_template_lines(template))
    assert text.splitlines()[3:] == [
        "   main:",
        "    Image:      busybox",
        "    Port:       <none>",
        "    Host Port:  <none>",
        "    Command:",
        "      sh",
        "      -c",
        "      sleep 1",
        "    Environment:",
        "      MODE:  a",
        "      POD:    (v1:metadata.name)",
        "    Mounts:",
        "      /data from data (ro)",
        "  Volumes:",
        "   data:",
        "    Type:          EmptyDir (a temporary directory that shares a pod's lifetime)",
        "  Node-Selectors:  <none>",
        "  Tolerations:     <none>",
    ]


def test_replicaset() -> None:
    body = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"nginx-{HASH}",
            "namespace": "default",
            "labels": {"app": "nginx", workloads.TEMPLATE_HASH_LABEL: HASH},
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "ownerReferences": [{"kind": "Deployment", "name": "nginx", "controller": True}],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 2},
    }
    lines = describe.describe_replicaset(body, ("Running", "Pending")).splitlines()
    assert lines[:9] == [
        f"Name:           nginx-{HASH}",
        "Namespace:      default",
        "Selector:       app=nginx",
        "Labels:         app=nginx",
        f"                pod-template-hash={HASH}",
        "Annotations:    deployment.kubernetes.io/revision: 2",
        "Controlled By:  Deployment/nginx",
        "Replicas:       2 current / 3 desired",
        "Pods Status:    1 Running / 1 Waiting / 0 Succeeded / 0 Failed",
    ]
    assert lines[9] == "Pod Template:"


def test_tabwrite_aligns_each_column_over_its_run_of_lines() -> None:
    assert describe.tabwrite(["a:\tx", "long:\ty\tz", "b\tc\td", "no tab", "c:\t1"]) == (
        "a:     x\nlong:  y  z\nb      c  d\nno tab\nc:  1"
    )
