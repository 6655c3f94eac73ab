"""Pod fields: terminationMessagePath/Policy, activeDeadlineSeconds, setHostnameAsFQDN, tty,
checked from inside the container or from its status."""

from __future__ import annotations

import time

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay
from kubeplay import settings as settings_mod
from kubeplay.engine import host as host_mod
from kubeplay.engine import pods as engine

pytestmark = pytest.mark.root


def _terminated(kp: Kubeplay, pod: str, index: int = 0) -> dict[str, object]:
    def check() -> dict[str, object]:
        state = kp.pod(pod)["status"]["containerStatuses"][index]["state"]
        found: dict[str, object] = state.get("terminated") or {}
        return found

    got: dict[str, object] = kp.wait_for(f"{pod} to terminate", check)
    return got


def test_termination_message_file_and_fallback_to_logs(kp: Kubeplay) -> None:
    path = kp.write(
        "term.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: msgfile}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "echo out; echo custom message > /tmp/why; exit 3"]
            terminationMessagePath: /tmp/why
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: fallback}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "for i in $(seq 1 100); do echo line $i; done; exit 1"]
            terminationMessagePolicy: FallbackToLogsOnError
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: fallback-ok}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "echo fine"]
            terminationMessagePolicy: FallbackToLogsOnError
        """,
    )
    kp.play(path)
    term = _terminated(kp, "msgfile")
    assert (term["exitCode"], term["message"]) == (3, "custom message")
    term = _terminated(kp, "fallback")
    assert term["message"] == "".join(f"line {i}\n" for i in range(21, 101))
    term = _terminated(kp, "fallback-ok")
    assert term["exitCode"] == 0 and "message" not in term


def test_active_deadline_fails_the_pod_and_stops_its_containers(kp: Kubeplay) -> None:
    path = kp.write(
        "deadline.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: deadline}}
        spec:
          activeDeadlineSeconds: 1
          terminationGracePeriodSeconds: 5
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    kp.play(path)
    host = host_mod.open_host(settings_mod.load(kp.env))
    try:
        rec = host.store.get_pod("default", "deadline")
        assert rec is not None and rec.started_at is not None
        assert not engine.enforce_deadline(host, rec, now=rec.started_at + 0.5)
        assert kp.pod("deadline")["status"]["phase"] == "Running"
        assert engine.enforce_deadline(host, rec, now=max(time.time(), rec.started_at + 1))
    finally:
        host.close()
    pod = kp.pod("deadline")
    assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed", "DeadlineExceeded")
    assert "terminated" in pod["status"]["containerStatuses"][0]["state"]
    assert kp.ok("get", "pods").splitlines()[1].split()[2] == "DeadlineExceeded"


def test_set_hostname_as_fqdn_and_tty(kp: Kubeplay) -> None:
    path = kp.write(
        "fqdn.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: fqdn}}
        spec:
          hostname: box
          subdomain: group
          setHostnameAsFQDN: true
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
          - name: term
            image: {IMAGE}
            command: [sh, -c, "test -t 0 && echo tty > /dev/shm/t; {SLEEPER}"]
            tty: true
            stdin: true
        """,
    )
    kp.play(path)
    assert kp.exec("fqdn", "hostname", container="main") == "box.group.default.svc.cluster.local\n"
    env = kp.exec("fqdn", "env", container="main")
    assert "HOSTNAME=box.group.default.svc.cluster.local\n" in env
    assert (
        kp.wait_for(
            "tty", lambda: kp("exec", "fqdn", "-c", "term", "--", "cat", "/dev/shm/t").stdout
        )
        == "tty\n"
    )
