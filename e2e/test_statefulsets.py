"""StatefulSets and DaemonSets end to end: OrderedReady starts `<set>-0..N-1` one at a time,
each once the previous is Ready, and scales down from the highest ordinal; a pod deleted by
hand comes back under its name with its claim's data; a DaemonSet runs one pod and replaces
it when it is deleted. Every wait is on a condition (the supervisor's pace varies)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def _statefulset(replicas: int, *, claims: bool = False, probe: bool = False) -> str:
    extra = ""
    if probe:
        extra += """
            readinessProbe:
              exec: {command: ["cat", "/tmp/ready"]}
              periodSeconds: 1"""
    mounts = "\n            volumeMounts: [{name: data, mountPath: /data}]" if claims else ""
    templates = ""
    if claims:
        templates = """
      volumeClaimTemplates:
      - metadata: {name: data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}"""
    return f"""
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: web
    spec:
      replicas: {replicas}
      serviceName: web
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: app
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]{extra}{mounts}{templates}
    """


def _pods(kp: Kubeplay) -> dict[str, dict[str, Any]]:
    doc = json.loads(kp.ok("get", "pods", "-o", "json"))
    return {p["metadata"]["name"]: p for p in doc["items"]}


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", ())
    )


def _running(kp: Kubeplay, name: str) -> bool:
    pod = _pods(kp).get(name)
    return pod is not None and pod["status"].get("phase") == "Running"


def test_ordered_ready_start_and_reverse_scale_down(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _statefulset(3, probe=True))
    out = kp.ok("apply", "-f", str(path))
    assert "statefulset.apps/web created" in out
    # web-0 runs but is not Ready (its probe wants /tmp/ready): web-1 is not made
    kp.wait_for("web-0 running", lambda: _running(kp, "web-0"), timeout=60)
    kp.wait_for(
        "the set's status after web-0 ran",
        lambda: (
            json.loads(kp.ok("get", "sts", "web", "-o", "json")).get("status", {}).get("replicas")
            == 1
        ),
        timeout=60,
    )
    assert sorted(_pods(kp)) == ["web-0"]
    for i in range(3):
        kp.exec(f"web-{i}", "touch", "/tmp/ready")
        if i < 2:
            kp.wait_for(f"web-{i + 1} running", lambda i=i: _running(kp, f"web-{i + 1}"), 60)
            pods = _pods(kp)
            assert _ready(pods[f"web-{i}"])
            assert sorted(pods) == [f"web-{n}" for n in range(i + 2)]
    kp.wait_for("3/3 ready", lambda: kp.ok("get", "sts", "web").split()[-2:-1] == ["3/3"], 60)
    pods = _pods(kp)
    assert pods["web-2"]["spec"]["hostname"] == "web-2"
    assert pods["web-2"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "2"
    created = [pods[f"web-{i}"]["metadata"]["creationTimestamp"] for i in range(3)]
    assert created == sorted(created)
    # scale down to 1: web-2 goes first, then web-1
    res = kp("scale", "statefulset/web", "--replicas", "1")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "statefulset.apps/web scaled\n"
    kp.wait_for("web-1 and web-2 gone", lambda: sorted(_pods(kp)) == ["web-0"], timeout=90)
    deleted = [
        line.split("delete Pod ")[1].split()[0]
        for line in kp.ok("get", "events").splitlines()
        if "SuccessfulDelete" in line
    ]
    assert deleted == ["web-2", "web-1"]
    kp.ok("delete", "-f", str(path))
    kp.wait_for("every pod gone", lambda: not _pods(kp), timeout=60)


def test_a_pod_deleted_by_hand_comes_back_with_its_name_and_claim(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _statefulset(2, claims=True))
    kp.play(path)
    kp.wait_for("web-1 running", lambda: _running(kp, "web-1"), timeout=90)
    for i in range(2):
        kp.exec(f"web-{i}", "sh", "-c", f"echo row-{i} > /data/row")
    claims = kp.ok("get", "pvc", "-o", "name").split()
    assert claims == [
        "persistentvolumeclaim/data-web-0",
        "persistentvolumeclaim/data-web-1",
    ]
    before = _pods(kp)["web-1"]["metadata"]["uid"]
    kp.ok("delete", "pod", "web-1")
    kp.wait_for(
        "web-1 made again",
        lambda: (
            (p := _pods(kp).get("web-1")) is not None
            and p["metadata"]["uid"] != before
            and p["status"].get("phase") == "Running"
        ),
        timeout=90,
    )
    assert kp.exec("web-1", "cat", "/data/row") == "row-1\n"
    assert kp.exec("web-0", "cat", "/data/row") == "row-0\n"
    described = kp.ok("describe", "statefulset", "web").splitlines()
    assert "Replicas:           2 desired | 2 total" in described
    assert any(
        "SuccessfulCreate" in line
        and "statefulset-controller" in line
        and "create Claim data-web-1 Pod web-1 in StatefulSet web success" in line
        for line in described
    )
    # generate kube gives the set back for its pod; down keeps the claims (as kubectl
    # delete does), and playing the generated file brings the pods back onto them
    generated = kp.ok("generate", "kube", "web-1")
    assert "kind: StatefulSet" in generated and "kind: Pod\n" not in generated
    again = kp.write("generated.yaml", kp.ok("generate", "kube"))
    kp.ok("down", str(path))
    assert "data-web-1" in kp.ok("volume", "ls", "-q").split()
    kp.play(again)
    kp.wait_for("web-1 back", lambda: _running(kp, "web-1"), timeout=90)
    assert kp.exec("web-1", "cat", "/data/row") == "row-1\n"
    out = kp.ok("down", "--volumes", str(again))
    assert "volume/data-web-0 deleted" in out
    assert kp.ok("volume", "ls", "-q").split() == []


def test_daemonset_runs_one_pod_and_replaces_it(kp: Kubeplay) -> None:
    path = kp.write(
        "agent.yaml",
        f"""
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: agent
        spec:
          selector: {{matchLabels: {{app: agent}}}}
          template:
            metadata: {{labels: {{app: agent}}}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: app
                image: {IMAGE}
                command: ["sh", "-c", "{SLEEPER}"]
        """,
    )
    assert "daemonset.apps/agent created" in kp.play(path)
    (first,) = kp.wait_for("one daemon pod", lambda: list(_pods(kp)) or None, timeout=60)
    assert first.startswith("agent-")
    kp.wait_for("it runs", lambda: _running(kp, first), timeout=60)
    row = kp.wait_for(
        "1 available",
        lambda: (cells := kp.ok("get", "ds", "agent").splitlines()[1].split())[5] == "1" and cells,
        timeout=60,
    )
    assert row[:7] == ["agent", "1", "1", "1", "1", "1", "<none>"]
    kp.ok("delete", "pod", first)
    second = kp.wait_for(
        "a new daemon pod",
        lambda: next((n for n in _pods(kp) if n != first and _running(kp, n)), None),
        timeout=90,
    )
    kp.wait_for("the old one gone", lambda: sorted(_pods(kp)) == [second], timeout=60)
    kp.ok("down", str(path))
    kp.wait_for("no pod left", lambda: not _pods(kp), timeout=60)


def test_rolling_update_replaces_pods_from_the_highest_ordinal(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _statefulset(3))
    kp.ok("apply", "--wait", "--timeout", "120s", "-f", str(path), timeout=150)
    assert kp.ok("get", "sts", "web").split()[-2:-1] == ["3/3"]  # --wait: all Ready
    before = json.loads(kp.ok("get", "sts", "web", "-o", "json"))["status"]["updateRevision"]
    kp.write(
        "web.yaml",
        _statefulset(3).replace(
            "metadata: {labels: {app: web}}", "metadata: {labels: {app: web, v: '2'}}"
        ),
    )
    assert "statefulset.apps/web configured" in kp.ok("apply", "-f", str(path))

    def rolled() -> bool:
        status = json.loads(kp.ok("get", "sts", "web", "-o", "json"))["status"]
        return (
            status.get("currentRevision") == status.get("updateRevision") != before
            and status.get("readyReplicas") == 3
        )

    kp.wait_for("the rollout", rolled, timeout=120)
    pods = _pods(kp)
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    assert all(p["metadata"]["labels"]["v"] == "2" for p in pods.values())
    deleted = [
        line.split("delete Pod ")[1].split()[0]
        for line in kp.ok("get", "events").splitlines()
        if "SuccessfulDelete" in line
    ]
    assert deleted == ["web-2", "web-1", "web-0"]
    revisions = kp.ok("get", "controllerrevisions").splitlines()[1:]
    assert sorted(line.split()[1:3] for line in revisions) == [
        ["statefulset.apps/web", "1"],
        ["statefulset.apps/web", "2"],
    ]
    kp.ok("delete", "statefulset", "web")
    kp.wait_for("every pod gone", lambda: not _pods(kp), timeout=60)
    assert kp("get", "controllerrevisions").stdout == ""


def test_a_pod_resolves_as_pod_dot_service_with_a_headless_service(kp: Kubeplay) -> None:
    """A StatefulSet's pods have hostname `<pod>` and subdomain `serviceName`: with a headless
    Service of that name each resolves by its FQDN, and as `<pod>.<service>` through the search
    path a cluster gives (busybox's nslookup sends the name as written, so the search path is
    checked in resolv.conf: `web-1.web` + `default.svc.cluster.local` with ndots 5)."""
    kp.write(
        "app/svc.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          clusterIP: None
          selector: {app: web}
          ports: [{port: 80}]
        """,
    )
    kp.write("app/web.yaml", _statefulset(2))
    kp.ok("apply", "-f", str(kp.tmp / "app"))
    kp.wait_for("web-0 and web-1 Running", lambda: _running(kp, "web-0") and _running(kp, "web-1"))
    ip = _pods(kp)["web-1"]["status"]["podIP"]
    seen: dict[str, str] = {}

    def resolves(name: str) -> bool:
        res = kp("exec", "web-0", "--", "nslookup", "-type=a", name)
        seen[name] = res.stdout + res.stderr
        return res.returncode == 0 and ip in res.stdout

    try:
        name = "web-1.web.default.svc.cluster.local"
        kp.wait_for(f"{name} -> {ip}", lambda: resolves(name))
        resolv = kp.exec("web-0", "cat", "/etc/resolv.conf")
        assert re.search(r"^search default\.svc\.cluster\.local\b", resolv, re.M), resolv
        assert re.search(r"^options ndots:5$", resolv, re.M), resolv
    except AssertionError as err:
        raise AssertionError(f"{err}: {seen}") from None
    finally:
        kp.ok("delete", "-f", str(kp.tmp / "app"))
