"""Container env from ConfigMaps, Secrets and the downward API, seen from inside the container;
a missing reference leaves only that container waiting (CreateContainerConfigError)."""

from __future__ import annotations

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def _env(kp: Kubeplay, pod: str, container: str | None = None) -> dict[str, str]:
    out = kp.exec(pod, "env", container=container)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_env_from_configmaps_secrets_fields_and_resources(kp: Kubeplay) -> None:
    path = kp.write(
        "env.yaml",
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings}}
        data: {{mode: fast, level: "3", "1st": y, color: red}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {{name: creds}}
        stringData: {{password: s3cret, "2fa": x}}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: envs
          labels: {{app: web}}
          annotations: {{team: blue}}
        spec:
          serviceAccountName: builder
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "echo $(MODE)-'$$(MODE)' > /tmp/argv; {SLEEPER}"]
            resources:
              limits: {{cpu: 500m, memory: 64Mi}}
            envFrom:
            - configMapRef: {{name: settings}}
              prefix: CM_
            - secretRef: {{name: creds}}
            - configMapRef: {{name: absent, optional: true}}
            env:
            - {{name: CM_color, value: blue}}
            - name: MODE
              valueFrom: {{configMapKeyRef: {{name: settings, key: mode}}}}
            - name: PASSWORD
              valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}
            - name: OPTIONAL
              valueFrom: {{configMapKeyRef: {{name: settings, key: nope, optional: true}}}}
            - name: COMBINED
              value: "$(MODE)/$(CM_level)/$$(MODE)"
            - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
            - {{name: POD_NS, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
            - {{name: POD_UID, valueFrom: {{fieldRef: {{fieldPath: metadata.uid}}}}}}
            - {{name: APP, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['app']"}}}}}}
            - {{name: TEAM, valueFrom: {{fieldRef: {{fieldPath: "metadata.annotations['team']"}}}}}}
            - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
            - {{name: HOST_IP, valueFrom: {{fieldRef: {{fieldPath: status.hostIP}}}}}}
            - {{name: NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
            - {{name: SA, valueFrom: {{fieldRef: {{fieldPath: spec.serviceAccountName}}}}}}
            - name: CPU_LIMIT_M
              valueFrom: {{resourceFieldRef: {{resource: limits.cpu, divisor: 1m}}}}
            - name: CPU_LIMIT
              valueFrom: {{resourceFieldRef: {{resource: limits.cpu}}}}
            - name: MEM_LIMIT_MI
              valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}
            - name: MEM_REQUEST
              valueFrom: {{resourceFieldRef: {{resource: requests.memory}}}}
        """,
    )
    res = kp("play", str(path))
    assert res.returncode == 0, res
    env = _env(kp, "envs")
    pod = kp.pod("envs")
    assert env["CM_mode"] == "fast" and env["CM_level"] == "3"
    assert env["CM_color"] == "blue"  # env wins over envFrom
    assert env["CM_1st"] == "y"  # the prefix makes "1st" a valid name
    assert env["password"] == "s3cret" and "2fa" not in env  # not a valid name: skipped
    assert (env["MODE"], env["PASSWORD"]) == ("fast", "s3cret")
    assert "OPTIONAL" not in env
    assert env["COMBINED"] == "fast/3/$(MODE)"
    assert (env["POD_NAME"], env["POD_NS"], env["POD_UID"]) == (
        "envs",
        "default",
        pod["metadata"]["uid"],
    )
    assert (env["APP"], env["TEAM"], env["NODE"], env["SA"]) == (
        "web",
        "blue",
        "localhost",
        "builder",
    )
    assert env["POD_IP"] == pod["status"]["podIP"] and env["POD_IP"]
    assert env["HOST_IP"] == pod["status"]["hostIP"]
    assert (env["CPU_LIMIT_M"], env["CPU_LIMIT"]) == ("500", "1")  # 0.5 rounded up
    assert (env["MEM_LIMIT_MI"], env["MEM_REQUEST"]) == ("64", str(64 * 1024 * 1024))
    assert kp.exec("envs", "cat", "/tmp/argv") == "fast-$(MODE)\n"
    assert (
        "warning: pod default/envs: Keys [2fa] from the EnvFrom secret default/creds were skipped "
        "since they are considered invalid environment variable names.\n" in res.stderr
    )


def test_missing_reference_leaves_that_container_waiting(kp: Kubeplay) -> None:
    path = kp.write(
        "missing.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: needs}}
        spec:
          containers:
          - name: waits
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            env:
            - name: X
              valueFrom: {{configMapKeyRef: {{name: later, key: k}}}}
          - name: runs
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: other}}
        spec:
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            envFrom: [{{secretRef: {{name: nope}}}}]
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: keyless}}
        data: {{other: v}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: nokey}}
        spec:
          containers:
          - name: main
            image: {IMAGE}
            env:
            - name: X
              valueFrom: {{configMapKeyRef: {{name: keyless, key: k}}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: fine}}
        spec:
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    res = kp("play", str(path))
    assert res.returncode == 0, res
    assert (
        "warning: pod default/needs: container waits: CreateContainerConfigError: "
        'configmap "later" not found'
    ) in res.stderr
    pod = kp.pod("needs")
    assert pod["status"]["phase"] == "Pending"
    states = {c["name"]: c["state"] for c in pod["status"]["containerStatuses"]}
    assert states["waits"] == {
        "waiting": {
            "reason": "CreateContainerConfigError",
            "message": 'configmap "later" not found',
        }
    }
    assert "running" in states["runs"]
    other = kp.pod("other")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert other["message"] == 'secret "nope" not found'
    nokey = kp.pod("nokey")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert nokey["message"] == "couldn't find key k in ConfigMap default/keyless"
    assert kp.pod("fine")["status"]["phase"] == "Running"
    table = kp.ok("get", "pods").splitlines()
    assert any(line.split()[:3] == ["needs", "1/2", "CreateContainerConfigError"] for line in table)
