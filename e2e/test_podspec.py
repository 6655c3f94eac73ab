"""Pod spec fidelity across objects: subPathExpr from env resolved at creation (valueFrom,
envFrom), and configMap/secret volumes following their objects as the kubelet's sync does (an
optional object created later fills the volume, a deleted one empties an optional volume and
leaves a required one as it was). Checked from inside the container."""

from __future__ import annotations

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def test_sub_path_expr_expands_value_from_and_env_from(kp: Kubeplay) -> None:
    path = kp.write(
        "expr.yaml",
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: dirs}}
        data: {{TEAM: blue}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: expr}}
        spec:
          volumes:
          - {{name: work, emptyDir: {{}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            envFrom:
            - configMapRef: {{name: dirs}}
            env:
            - name: POD_NAME
              valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
            volumeMounts:
            - {{name: work, mountPath: /work}}
            - {{name: work, mountPath: /mine, subPathExpr: "logs/$(POD_NAME)/$(TEAM)"}}
          - name: broken
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            env:
            - name: POD_NAME
              valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
            volumeMounts:
            - {{name: work, mountPath: /mine, subPathExpr: "$(POD_NAME)/$(UNSET)"}}
        """,
    )
    kp.play(path)
    kp.exec("expr", "sh", "-c", "echo hi > /mine/f", container="main")
    assert kp.exec("expr", "cat", "/work/logs/expr/blue/f", container="main") == "hi\n"
    # A variable without a value: the kubelet's error leaves that container waiting.
    statuses = kp.pod("expr")["status"]["containerStatuses"]
    broken = next(s for s in statuses if s["name"] == "broken")
    assert broken["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert "missing value for UNSET" in broken["state"]["waiting"]["message"]


def test_config_map_volumes_follow_objects_created_later_and_deleted(kp: Kubeplay) -> None:
    pod = kp.write(
        "pod.yaml",
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: required}}
        data: {{a.conf: one}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: cfg}}
        spec:
          volumes:
          - name: later
            configMap: {{name: later, optional: true}}
          - name: gone
            secret: {{secretName: gone, optional: true}}
          - name: required
            configMap: {{name: required}}
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            volumeMounts:
            - {{name: later, mountPath: /later}}
            - {{name: gone, mountPath: /gone}}
            - {{name: required, mountPath: /required}}
        """,
    )
    secret = kp.write(
        "secret.yaml",
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: gone}
        stringData: {token: s3cret}
        """,
    )
    kp.play(secret)
    kp.play(pod)
    assert kp.exec("cfg", "ls", "/later") == ""
    assert kp.exec("cfg", "cat", "/gone/token") == "s3cret"
    # An optional ConfigMap that appears later fills the volume in place.
    later = kp.write(
        "later.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: later}
        data: {x.conf: appeared}
        """,
    )
    kp.play(later)
    assert kp.exec("cfg", "cat", "/later/x.conf") == "appeared"
    # delete: an optional source's files go; a required one keeps its files (the kubelet's
    # SetUp fails and the mounted files stay).
    kp.ok("delete", "secret", "gone")
    assert kp.exec("cfg", "ls", "/gone") == ""
    kp.ok("delete", "configmap", "later")
    assert kp.exec("cfg", "ls", "/later") == ""
    kp.ok("delete", "configmap", "required")
    assert kp.exec("cfg", "cat", "/required/a.conf") == "one"
    assert kp.pod("cfg")["status"]["phase"] == "Running"
