"""Deployments and ReplicaSets end to end: a deleted pod is replaced, `scale` follows,
a rolling update sampled all along never breaks the availability and surge bounds,
`rollout undo` goes back, a hostPort pod that cannot get its port is Pending with the
scheduler's message while Recreate succeeds, a progress deadline fails `rollout status`, and
a supervisor killed mid-rollout is replaced by one that finishes it with no pod too many.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay
from e2e.test_network import free_port

pytestmark = pytest.mark.root

NO_FREE_PORTS = (
    "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports"
)


def _deployment(
    *, replicas: int = 2, mode: str = "a", strategy: str = "", extra: str = "", command: str = ""
) -> str:
    command = command or f'["sh", "-c", "{SLEEPER}"]'
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
{strategy}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {IMAGE}
        command: {command}
        env:
        - {{name: MODE, value: "{mode}"}}
{extra}
"""


def _apply(kp: Kubeplay, path: Any) -> str:
    """`apply -f PATH`; the fixture's teardown downs the file as it does what was played."""
    kp.played.append(str(path))
    return kp.ok("apply", "-f", str(path))


def _pods(kp: Kubeplay) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
    return items


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if "deletionTimestamp" not in p["metadata"]]


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", ())
    )


def _running(kp: Kubeplay, count: int, *, not_in: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    def check() -> list[str] | None:
        pods = _pods(kp)
        names = [p["metadata"]["name"] for p in pods]
        ok = len(pods) == count and all(_ready(p) for p in pods) and not_in.isdisjoint(names)
        return names if ok else None

    got: list[str] = kp.wait_for(f"{count} Ready pods", check, timeout=90)
    return got


def test_a_deleted_pod_is_replaced_and_get_rs_shows_it(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _deployment(replicas=2))
    kp.play(path)
    before = _running(kp, 2)
    kp.ok("delete", "pod", before[0])
    after = _running(kp, 2, not_in={before[0]})
    assert before[1] in after
    table = kp.ok("get", "rs").splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    name, desired, current, ready, _age = table[1].split()
    assert name.startswith("web-") and (desired, current, ready) == ("2", "2", "2")
    rs = json.loads(kp.ok("get", "replicasets", name, "-o", "json"))
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"


def test_scale_1_to_5_to_1(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _deployment(replicas=1))
    kp.play(path)
    (first,) = _running(kp, 1)
    out = kp.ok("scale", "deployment/web", "--replicas", "5")
    assert out.splitlines() == ["deployment.apps/web scaled"]
    _running(kp, 5)
    kp.ok("scale", "deploy", "web", "--replicas", "1")
    # the newest pods go first: the first one stays
    assert _running(kp, 1) == [first]
    table = kp.ok("get", "deployment", "web").splitlines()
    assert table[1].split()[1:4] == ["1/1", "1", "1"]
    replicas = (
        "Replicas:               1 desired | 1 updated | 1 total | 1 available | 0 unavailable"
    )
    text = kp.wait_for(
        "describe deployment with 1 available",
        lambda: out if replicas in (out := kp.ok("describe", "deployment", "web")) else None,
        timeout=30,
    )
    lines = text.splitlines()
    (new_rs,) = [line for line in lines if line.startswith("NewReplicaSet:")]
    rs_name = new_rs.split()[1]
    assert new_rs == f"NewReplicaSet:   {rs_name} (1/1 replicas created)"
    assert "OldReplicaSets:  <none>" in lines
    (scaled,) = [line for line in lines if f"Scaled down replica set {rs_name} from 5" in line]
    assert scaled.split()[:2] == ["Normal", "ScalingReplicaSet"]
    assert "deployment-controller" in scaled.split()
    rs_text = kp.ok("describe", "rs", rs_name).splitlines()
    assert "Controlled By:  Deployment/web" in rs_text
    assert "Replicas:       1 current / 1 desired" in rs_text
    missing = kp("scale", "deployment/nope", "--replicas", "1")
    assert missing.returncode == 1 and 'deployments.apps "nope" not found' in missing.stderr


def test_rolling_update_never_breaks_the_bounds_and_undo_goes_back(kp: Kubeplay) -> None:
    strategy = """  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}"""
    path = kp.write("web.yaml", _deployment(replicas=3, strategy=strategy))
    _apply(kp, path)
    old = set(_running(kp, 3))
    path.write_text(_deployment(replicas=3, strategy=strategy, mode="b"))
    assert _apply(kp, path).splitlines() == ["deployment.apps/web configured"]
    samples: list[tuple[int, int]] = []
    deadline = time.monotonic() + 90
    while True:
        live = _live(_pods(kp))
        samples.append((len(live), sum(_ready(p) for p in live)))
        names = {p["metadata"]["name"] for p in live}
        if len(live) == 3 and old.isdisjoint(names) and all(_ready(p) for p in live):
            break
        assert time.monotonic() < deadline, f"rollout did not finish: {samples[-5:]}"
        time.sleep(0.1)
    assert max(n for n, _ in samples) <= 3 + 1, samples
    assert min(r for _, r in samples) >= 3 - 1, samples
    status = kp.ok("rollout", "status", "deployment/web", "--timeout", "60")
    assert status.splitlines()[-1] == 'deployment "web" successfully rolled out'
    history = kp.ok("rollout", "history", "deployment/web").splitlines()
    assert [line.split()[0] for line in history[2:]] == ["1", "2"]
    assert kp.ok("rollout", "undo", "deployment/web").strip() == "deployment.apps/web rolled back"
    kp.ok("rollout", "status", "deployment/web", "--timeout", "60")
    _running(kp, 3)
    deployment = json.loads(kp.ok("get", "deployment", "web", "-o", "json"))
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MODE", "value": "a"}]
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = kp.ok("rollout", "history", "deployment/web").splitlines()
    assert [line.split()[0] for line in history[2:]] == ["2", "3"]


def test_host_port_surge_pod_is_pending_and_recreate_succeeds(kp: Kubeplay) -> None:
    port = free_port()
    ports = f"""        ports:
        - containerPort: 8080
          hostPort: {port}"""
    path = kp.write("web.yaml", _deployment(replicas=1, extra=ports))
    _apply(kp, path)
    (old,) = _running(kp, 1)
    # replicas 2 on one node: the second pod cannot get the port
    kp.ok("scale", "deployment/web", "--replicas", "2")

    def unscheduled() -> str | None:
        found = [p for p in _pods(kp) if p["status"]["phase"] == "Pending"]
        return found[0]["metadata"]["name"] if found else None

    second = kp.wait_for("the second replica Pending", unscheduled)
    reason = json.loads(kp.ok("get", "pod", second, "-o", "json"))["status"]["conditions"]
    assert reason[0]["message"] == NO_FREE_PORTS
    # scaling down removes the unscheduled pod first
    kp.ok("scale", "deployment/web", "--replicas", "1")
    assert _running(kp, 1) == [old]
    path.write_text(_deployment(replicas=1, mode="b", extra=ports))
    _apply(kp, path)

    def pending() -> dict[str, Any] | None:
        found = [p for p in _pods(kp) if p["metadata"]["name"] != old]
        return found[0] if found and found[0]["status"]["phase"] == "Pending" else None

    pod = kp.wait_for("the surge pod", pending)
    (cond,) = pod["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "PodScheduled",
        "False",
        "Unschedulable",
        NO_FREE_PORTS,
    )
    table = kp.ok("get", "pods").splitlines()
    assert any(line.split()[:3] == [pod["metadata"]["name"], "0/1", "Pending"] for line in table)
    # the old pod keeps running: the rollout cannot go on
    assert old in [p["metadata"]["name"] for p in _pods(kp)]
    recreate = "  strategy: {type: Recreate}"
    path.write_text(_deployment(replicas=1, mode="c", extra=ports, strategy=recreate))
    _apply(kp, path)
    (new,) = _running(kp, 1, not_in={old})
    got = json.loads(kp.ok("get", "pod", new, "-o", "json"))
    assert got["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "c"}]


def test_a_progress_deadline_fails_rollout_status(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _deployment(replicas=1))
    _apply(kp, path)
    _running(kp, 1)
    broken = _deployment(replicas=1, mode="b", command='["sh", "-c", "exit 1"]')
    path.write_text(
        broken.replace("  replicas: 1\n", "  replicas: 1\n  progressDeadlineSeconds: 2\n")
    )
    _apply(kp, path)
    res = kp("rollout", "status", "deployment/web", "--timeout", "60")
    assert res.returncode == 1, res.stdout
    assert 'error: deployment "web" exceeded its progress deadline' in res.stderr
    deployment = json.loads(kp.ok("get", "deployment", "web", "-o", "json"))
    progressing = [c for c in deployment["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["status"] == "False"
    assert progressing[0]["reason"] == "ProgressDeadlineExceeded"
    kp.ok("rollout", "undo", "deployment/web")
    kp.ok("rollout", "status", "deployment/web", "--timeout", "60")


def test_a_supervisor_killed_mid_rollout_is_restarted_and_finishes_it_once(kp: Kubeplay) -> None:
    # each new pod is Ready only 2 s after it starts: the rollout takes several steps
    probe = """        readinessProbe:
          exec: {command: ["true"]}
          initialDelaySeconds: 2
          periodSeconds: 1"""
    path = kp.write("web.yaml", _deployment(replicas=3, extra=probe))
    _apply(kp, path)
    old = set(_running(kp, 3))
    path.write_text(_deployment(replicas=3, mode="b", extra=probe))
    _apply(kp, path)
    first = kp.wait_for("a supervisor", kp.supervisor_pid, timeout=10)
    os.kill(first, signal.SIGKILL)
    kp.wait_for("the supervisor to die", lambda: not kp.supervisors(), timeout=10)
    # a read command starts a new one, which carries the rollout on from the stored state
    kp.ok("get", "pods")
    new = set(_running(kp, 3, not_in=old))
    assert len(new) == 3
    rss = json.loads(kp.ok("get", "rs", "-o", "json"))["items"]
    assert sorted(r["spec"]["replicas"] for r in rss) == [0, 3]
    assert sorted(r["status"]["replicas"] for r in rss) == [0, 3]


def test_delete_cascade_orphan_keeps_the_pods_and_apply_adopts_them(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _deployment(replicas=2))
    _apply(kp, path)
    pods = sorted(_running(kp, 2))
    (rs_line,) = kp.ok("get", "rs", "-o", "name").splitlines()
    out = kp.ok("delete", "deployment", "web", "--cascade=orphan")
    assert out.splitlines() == ['deployment.apps "web" deleted']
    assert kp("get", "deployment", "web").returncode == 1
    rs = json.loads(kp.ok("get", "rs", rs_line.split("/", 1)[1], "-o", "json"))
    assert "ownerReferences" not in rs["metadata"]
    assert sorted(_running(kp, 2)) == pods  # the pods run on, still the ReplicaSet's
    _apply(kp, path)  # the Deployment again: it adopts the ReplicaSet, no rollout
    kp.ok("rollout", "status", "deployment/web", "--timeout", "60")
    assert sorted(_running(kp, 2)) == pods
    assert kp.ok("get", "rs", "-o", "name").splitlines() == [rs_line]
    bad = kp("delete", "deployment", "web", "--cascade=sideways")
    assert bad.returncode == 2 and "invalid cascade value (sideways)" in bad.stderr
    kp.ok("delete", "-f", str(path), "--cascade=foreground")
    kp.wait_for("no pods", lambda: _pods(kp) == [], timeout=60)
    assert kp.ok("get", "rs", "-o", "name").strip() == ""


def test_a_replicaset_applied_again_adopts_the_pods_an_orphaning_delete_left(
    kp: Kubeplay,
) -> None:
    """kubectl's ReplicaSet walkthrough: `delete rs --cascade=orphan` keeps the pods running
    without an owner; the ReplicaSet applied again adopts them (ClaimPods): the same pods,
    now with its ownerReference, none made or restarted."""
    path = kp.write(
        "rs.yaml", _deployment(replicas=2).replace("kind: Deployment", "kind: ReplicaSet")
    )
    _apply(kp, path)
    pods = sorted(_running(kp, 2))
    kp.ok("delete", "rs", "web", "--cascade=orphan")
    assert all("ownerReferences" not in p["metadata"] for p in _pods(kp))
    _apply(kp, path)
    uid = json.loads(kp.ok("get", "rs", "web", "-o", "json"))["metadata"]["uid"]
    adopted = _pods(kp)
    assert sorted(p["metadata"]["name"] for p in adopted) == pods
    for pod in adopted:
        (ref,) = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["uid"], ref["controller"]) == ("ReplicaSet", uid, True)
        assert all(c["restartCount"] == 0 for c in pod["status"]["containerStatuses"])
    kp.wait_for(
        "the ReplicaSet to count its adopted pods",
        lambda: (
            json.loads(kp.ok("get", "rs", "web", "-o", "json"))["status"].get("readyReplicas") == 2
        ),
    )
    kp.ok("delete", "-f", str(path))
    kp.wait_for("no pods", lambda: _pods(kp) == [], timeout=60)


# Pods that stop only when told (a file), whatever signal they get, within a long grace period.
STUBBORN = '["sh", "-c", "trap \\"\\" TERM; while [ ! -e /tmp/stop ]; do sleep 0.2; done"]'


def _stop_all(kp: Kubeplay, names: list[str]) -> None:
    for name in names:
        kp.exec(name, "touch", "/tmp/stop")


def test_delete_cascade_background_returns_once_the_owner_is_gone(kp: Kubeplay) -> None:
    """kubectl's default cascade: the Deployment and its ReplicaSet are gone when `delete`
    returns, their pods terminate afterwards (the supervisor stops them, within their grace
    period); foreground returns only once the pods are gone, the Deployment kept meanwhile."""
    body = _deployment(replicas=2, command=STUBBORN).replace(
        "terminationGracePeriodSeconds: 1", "terminationGracePeriodSeconds: 120"
    )
    path = kp.write("web.yaml", body)
    _apply(kp, path)
    pods = sorted(_running(kp, 2))
    assert kp.ok("delete", "deployment", "web").splitlines() == ['deployment.apps "web" deleted']
    assert kp("get", "deployment", "web").returncode == 1
    assert kp.ok("get", "rs", "-o", "name").strip() == ""
    left = _pods(kp)  # still there, terminating: they ignore SIGTERM for 120 s
    assert sorted(p["metadata"]["name"] for p in left) == pods
    assert all("deletionTimestamp" in p["metadata"] for p in left)
    rows = kp.ok("get", "pods").splitlines()[1:]
    assert [r.split()[2] for r in rows] == ["Terminating", "Terminating"]
    _stop_all(kp, pods)
    kp.wait_for("the pods gone", lambda: _pods(kp) == [], timeout=60)

    _apply(kp, path)
    pods = sorted(_running(kp, 2))
    foreground = kp.popen("delete", "deployment", "web", "--cascade=foreground")
    kp.wait_for(
        "the pods terminating", lambda: _live(_pods(kp)) == [] and foreground.poll() is None
    )
    assert kp("get", "deployment", "web").returncode == 0  # waits for its pods
    _stop_all(kp, pods)
    out, err = foreground.communicate(timeout=60)
    assert foreground.returncode == 0, err
    assert out.splitlines() == ['deployment.apps "web" deleted']
    assert _pods(kp) == []
