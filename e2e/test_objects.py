"""ConfigMaps and Secrets as objects: played from the pods' file or `--configmap FILE`, stored
per namespace, listed as kubectl lists them, immutable honoured, removed by `down` and
`delete`. (Their use by env vars is in test_env.py.)"""

from __future__ import annotations

import base64
import json

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root

OBJECTS = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
binaryData:
  blob: AAEC
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: prod
data:
  user: YWRtaW4=
  password: b2xk
stringData:
  password: s3cret
"""


def test_configmaps_and_secrets_are_stored_listed_and_removed(kp: Kubeplay) -> None:
    path = kp.write("objects.yaml", OBJECTS)
    out = kp.play(path)
    assert out.splitlines() == ["configmap/settings created", "secret/creds created"]
    assert kp.play(path).splitlines() == [
        "configmap/settings unchanged",
        "secret/creds unchanged",
    ]

    table = kp.ok("get", "configmaps").splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert table[1].split()[:2] == ["settings", "2"]
    assert kp.ok("get", "secrets", "-n", "prod").splitlines()[1].split()[:3] == [
        "creds",
        "Opaque",
        "2",
    ]
    assert kp.ok("get", "secrets", "-A", "-o", "name").split() == ["secret/creds"]
    assert kp("get", "secrets").stderr.strip() == "No resources found in default namespace."

    secret = json.loads(kp.ok("get", "secret", "creds", "-n", "prod", "-o", "json"))
    assert "stringData" not in secret  # merged into data on write, as the API server does
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"user": "admin", "password": "s3cret"}
    assert secret["metadata"]["namespace"] == "prod" and secret["metadata"]["uid"]
    cm = json.loads(kp.ok("get", "cm", "settings", "-o", "json"))
    assert (cm["data"], cm["binaryData"]) == ({"mode": "fast"}, {"blob": "AAEC"})

    missing = kp("get", "configmap", "nope")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        'error: configmaps "nope" not found',
    )
    assert kp.ok("delete", "configmap", "settings") == 'configmap "settings" deleted\n'
    assert kp("delete", "configmap", "settings").returncode == 1
    assert kp.ok("down", path).splitlines() == ["secret/creds deleted"]
    assert kp.ok("get", "secrets", "-A", "-o", "name") == ""


def test_changing_an_immutable_configmap_is_refused_and_nothing_changes(kp: Kubeplay) -> None:
    first = kp.write(
        "cm.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: frozen}
        immutable: true
        data: {mode: fast}
        """,
    )
    kp.ok("play", "--configmap", str(first), str(kp.write("empty.yaml", "")))
    changed = kp.write(
        "cm2.yaml",
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: other}}
        data: {{a: b}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: frozen}}
        immutable: true
        data: {{mode: slow}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: user}}
        spec:
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    res = kp("play", str(changed))
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        f"error: {changed}:10: document 2 (ConfigMap frozen): data: ConfigMap default/frozen "
        "exists: Forbidden: field is immutable when `immutable` is set"
    )
    kp.assert_nothing_runs()
    assert kp.ok("get", "cm", "-o", "name").split() == ["configmap/frozen"]
    stored = json.loads(kp.ok("get", "cm", "frozen", "-o", "json"))
    assert stored["data"] == {"mode": "fast"}


def test_configmap_option_takes_only_configmaps_and_secrets(kp: Kubeplay) -> None:
    pod = kp.write(
        "pod.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          containers: [{{name: main, image: {IMAGE}}}]
        """,
    )
    res = kp("play", "--configmap", str(pod), str(kp.write("objects.yaml", OBJECTS)))
    assert res.returncode == 2, res
    assert res.stderr.strip() == (
        f"error: {pod}:2: document 1 (Pod p): kind: --configmap files hold ConfigMaps and "
        "Secrets only, not Pod"
    )
    kp.assert_nothing_runs()
    assert kp.ok("get", "cm", "-A", "-o", "name") == ""
