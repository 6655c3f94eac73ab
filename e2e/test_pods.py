"""Pods through the CLI: play, get (every output), describe, phases, delete, down, wait,
namespaces, directories and stdin, and pods outliving the kubeplay process."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def sleeper(name: str, namespace: str | None = None, container: str = "main") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}{ns}
spec:
  containers:
  - name: {container}
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
"""


def test_played_pod_is_running_and_get_shows_it_in_every_output(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", sleeper("web"))
    assert kp.play(path).strip() == "pod/web created"

    table = kp.ok("get", "pods")
    assert table.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert re.search(r"^web\s+1/1\s+Running\s+0\s+\d+s$", table, re.M), table

    pod = kp.pod("web")
    assert pod["apiVersion"] == "v1"
    assert pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == "web"
    assert pod["metadata"]["namespace"] == "default"
    assert pod["metadata"]["uid"]
    assert pod["spec"]["containers"][0]["image"] == IMAGE
    status = pod["status"]
    assert status["phase"] == "Running"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == "True"
    assert conditions["ContainersReady"] == "True"
    (cs,) = status["containerStatuses"]
    assert cs["name"] == "main"
    assert cs["containerID"]
    assert cs["imageID"]
    assert cs["image"] == IMAGE
    assert cs["started"] is True
    assert cs["ready"] is True
    assert cs["restartCount"] == 0
    assert "running" in cs["state"]
    assert cs["state"]["running"]["startedAt"]

    as_yaml = yaml.safe_load(kp.ok("get", "pod", "web", "-o", "yaml"))
    assert as_yaml["kind"] == "Pod"
    assert as_yaml["status"]["phase"] == "Running"
    assert as_yaml["metadata"]["uid"] == pod["metadata"]["uid"]

    assert kp.pod_names() == ["pod/web"]
    assert kp.ok("get", "pod", "web", "-o", "name").split() == ["pod/web"]

    wide = kp.ok("get", "pods", "-o", "wide")
    assert wide.splitlines()[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert re.search(r"^web\s+1/1\s+Running\s+0\s+\d+s\s+", wide, re.M), wide

    described = kp.ok("describe", "pod", "web")
    assert re.search(r"^Name:\s+web$", described, re.M), described
    assert re.search(r"^Namespace:\s+default$", described, re.M), described
    assert re.search(r"^Status:\s+Running$", described, re.M), described
    assert "main:" in described
    assert IMAGE in described


def test_container_exiting_0_with_restart_policy_never_makes_the_pod_succeeded(
    kp: Kubeplay,
) -> None:
    path = kp.write(
        "jobs.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: ok
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "echo done"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: bad
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "exit 3"]
        """,
    )
    kp.play(path)

    def phases() -> dict[str, str] | None:
        items = json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
        got = {p["metadata"]["name"]: p["status"]["phase"] for p in items}
        return got if set(got.values()) <= {"Succeeded", "Failed"} else None

    assert kp.wait_for("both pods to finish", phases) == {"ok": "Succeeded", "bad": "Failed"}
    table = kp.ok("get", "pods")
    assert re.search(r"^ok\s+0/1\s+Completed\s+0\s", table, re.M), table
    assert re.search(r"^bad\s+0/1\s+Error\s+0\s", table, re.M), table

    ok = kp.pod("ok")["status"]["containerStatuses"][0]
    assert ok["state"]["terminated"]["exitCode"] == 0
    assert ok["state"]["terminated"]["reason"] == "Completed"
    bad = kp.pod("bad")["status"]["containerStatuses"][0]
    assert bad["state"]["terminated"]["exitCode"] == 3
    assert bad["state"]["terminated"]["reason"] == "Error"
    assert bad["ready"] is False
    assert kp.ok("logs", "ok") == "done\n"


def test_down_twice_is_harmless(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", sleeper("web"))
    kp.play(path)
    assert kp.ok("down", str(path)).strip() == "pod/web deleted"
    assert kp.leaks() == []
    second = kp("down", str(path))
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    kp.assert_nothing_runs()


def test_delete_pod_removes_it_and_a_missing_pod_is_not_found(kp: Kubeplay) -> None:
    path = kp.write("two.yaml", sleeper("one") + "---" + sleeper("two"))
    kp.play(path)
    assert kp.ok("delete", "pod", "one").strip() == 'pod "one" deleted'
    assert kp.pod_names() == ["pod/two"]

    missing = kp("delete", "pod", "missing")
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    assert "missing" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert kp.pod_names() == ["pod/two"]


def test_wait_for_ready_and_for_delete(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", sleeper("web"))
    kp.play(path)
    out = kp.ok("wait", "pod/web", "--for=condition=Ready", "--timeout=30s")
    assert out.strip() == "pod/web condition met"
    kp.ok("delete", "pod", "web")
    out = kp.ok("wait", "pod/web", "--for=delete", "--timeout=30s")
    assert out.strip() == "pod/web condition met"


def test_metadata_namespace_scopes_names(kp: Kubeplay) -> None:
    path = kp.write("ns.yaml", sleeper("web", "team-a") + "---" + sleeper("web", "team-b"))
    kp.play(path)

    assert kp.pod_names("-n", "team-a") == ["pod/web"]
    assert kp.pod_names("-n", "team-b") == ["pod/web"]
    empty = kp("get", "pods")
    assert empty.returncode == 0
    assert empty.stdout == ""
    assert "No resources found in default namespace." in empty.stderr

    table = kp.ok("get", "pods", "-A")
    assert table.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert re.search(r"^team-a\s+web\s+1/1\s+Running", table, re.M), table
    assert re.search(r"^team-b\s+web\s+1/1\s+Running", table, re.M), table

    a, b = kp.pod("web", "team-a"), kp.pod("web", "team-b")
    assert a["metadata"]["namespace"] == "team-a"
    assert b["metadata"]["namespace"] == "team-b"
    assert a["metadata"]["uid"] != b["metadata"]["uid"]

    kp.ok("delete", "pod", "web", "-n", "team-a")
    assert kp.pod_names("-n", "team-a") == []
    assert kp.pod_names("-n", "team-b") == ["pod/web"]
    assert kp.exec("web", "echo", "alive", namespace="team-b") == "alive\n"


def test_play_from_a_directory_and_from_stdin(kp: Kubeplay) -> None:
    kp.write("dir/a.yaml", sleeper("from-a"))
    kp.write("dir/b.yml", sleeper("from-b"))
    out = kp.play(kp.tmp / "dir")
    assert sorted(out.split()) == ["created", "created", "pod/from-a", "pod/from-b"]

    out = kp.ok("play", "-", input=sleeper("from-stdin"))
    assert out.strip() == "pod/from-stdin created"
    assert sorted(kp.pod_names()) == ["pod/from-a", "pod/from-b", "pod/from-stdin"]

    assert kp.ok("down", "-", input=sleeper("from-stdin")).strip() == "pod/from-stdin deleted"
    assert kp.ok("down", str(kp.tmp / "dir")).split().count("deleted") == 2
    kp.assert_nothing_runs()


def test_pod_keeps_running_after_kubeplay_exits(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", sleeper("web"))
    kp.play(path)
    # play has returned: its process is gone, the container's PID 1 must still be there.
    first = kp.exec("web", "cat", "/proc/1/cmdline")
    assert "while" in first
    assert kp.pod("web")["status"]["phase"] == "Running"
    assert kp.exec("web", "cat", "/proc/1/cmdline") == first


def test_down_kills_a_container_ignoring_sigterm_after_the_grace_period(kp: Kubeplay) -> None:
    path = kp.write(
        "stubborn.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: stubborn
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
        """,
    )
    kp.play(path)
    started = time.monotonic()
    assert kp.ok("down", str(path)).strip() == "pod/stubborn deleted"
    took = time.monotonic() - started
    assert 2 <= took < 10, f"down took {took:.1f}s with a 2s grace period"
    kp.assert_nothing_runs()


def test_down_signals_every_pod_before_any_grace_period_ends(kp: Kubeplay) -> None:
    # The kubelet stops all pods at once: with parallelism 2, four pods that ignore SIGTERM
    # are all sent their stop signal before the first one's grace period ends and it is
    # killed (stopping them two at a time would kill the first two before signalling the
    # others, and the grace periods would add up).
    kp.env["KUBEPLAY_PARALLELISM"] = "2"
    docs = [
        f"""
apiVersion: v1
kind: Pod
metadata:
  name: stubborn{i}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {IMAGE}
    command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
"""
        for i in range(4)
    ]
    path = kp.write("stubborn.yaml", "---".join(docs))
    kp.play(path)
    res = kp("-v", "down", str(path))
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    events = [r["event"] for r in records]
    terms = [
        i
        for i, r in enumerate(records)
        if r["event"] == "container_signalled" and r["signal"] == "15"
    ]
    kills = [i for i, r in enumerate(records) if r["event"] == "container_kill"]
    assert len(terms) == 4, events
    assert len(kills) == 4, events  # each pod ignored SIGTERM and was killed after its grace
    assert max(terms) < min(kills), events
    kp.assert_nothing_runs()


def test_get_a_missing_pod_is_not_found(kp: Kubeplay) -> None:
    res = kp("get", "pod", "ghost")
    assert res.returncode == 1
    assert 'pod "ghost" not found' in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
