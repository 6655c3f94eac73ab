"""Input at the limits, end to end: what only real runc, locks and a store can show. The
refusals that create nothing are unit tests (tests/unit/kube/test_loader.py,
tests/unit/services/test_input.py)."""

from __future__ import annotations

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root

# The longest pod name the API server takes (a DNS-1123 subdomain), in a long namespace: its
# lock file `pod_<namespace>_<name>.lock` would be over the 255-byte limit of a file name.
LONG_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
LONG_NAMESPACE = "n" * 63


def test_longest_valid_pod_name_plays_runs_and_goes(kp: Kubeplay) -> None:
    assert len(LONG_NAME) == 253
    path = kp.write(
        "long.yaml",
        f"""
        apiVersion: v1
        kind: Namespace
        metadata: {{name: {LONG_NAMESPACE}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: {LONG_NAME}
          namespace: {LONG_NAMESPACE}
        spec:
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        """,
    )
    assert f"pod/{LONG_NAME} created" in kp.play(path)
    kp.wait_for(
        "the pod to run",
        lambda: kp.pod(LONG_NAME, LONG_NAMESPACE)["status"]["phase"] == "Running",
    )
    # The hostname is the name cut to 63 characters, as the kubelet does.
    hostname = kp.exec(LONG_NAME, "hostname", namespace=LONG_NAMESPACE).strip()
    assert hostname == "a" * 63
    assert kp.ok("delete", "pod", LONG_NAME, "-n", LONG_NAMESPACE).strip() == (
        f'pod "{LONG_NAME}" deleted'
    )
    assert kp.pod_names("-A") == []
