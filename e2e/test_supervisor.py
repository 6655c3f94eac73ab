"""The supervisor end to end: restarts with back-off per restartPolicy (app and init
containers), CrashLoopBackOff, adoption after a SIGKILL, events, `get pods -w`, `wait`.

Back-off is shortened through KUBEPLAY_BACKOFF_BASE / _CAP (the kubelet's 10 s / 300 s would
make these tests minutes long); the sequence is the kubelet's: first restart at once, then
base, 2x base, 4x base...
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def pod_yaml(
    name: str, *, policy: str, containers: dict[str, str], inits: dict[str, str] | None = None
) -> str:
    def block(items: dict[str, str]) -> str:
        return "".join(
            f"""
  - name: {cname}
    image: {IMAGE}
    command: ["sh", "-c", {json.dumps(script)}]"""
            for cname, script in items.items()
        )

    init = f"\n  initContainers:{block(inits)}" if inits else ""
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: {policy}
  terminationGracePeriodSeconds: 2{init}
  containers:{block(containers)}
"""


def _backoff(kp: Kubeplay, base: float, cap: float = 60.0) -> None:
    kp.env["KUBEPLAY_BACKOFF_BASE"] = str(base)
    kp.env["KUBEPLAY_BACKOFF_CAP"] = str(cap)


def statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = pod["status"]
    return {
        s["name"]: s
        for s in status.get("initContainerStatuses", []) + status.get("containerStatuses", [])
    }


def _cri_time(text: str) -> float:
    """A CRI log timestamp (RFC3339Nano) as epoch seconds."""
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(stamp).timestamp()


def test_crashing_container_reaches_crash_loop_back_off_with_growing_delays(
    kp: Kubeplay,
) -> None:
    """First restart at once, then 1 s, 2 s, 4 s (base 1 s): the kubelet's doubling."""
    _backoff(kp, base=1.0)
    path = kp.write(
        "crash.yaml", pod_yaml("crash", policy="Always", containers={"main": "echo run; exit 1"})
    )
    kp.play(path)

    def four_restarts() -> dict[str, Any] | None:
        pod = kp.pod("crash")
        return pod if statuses(pod)["main"]["restartCount"] >= 4 else None

    kp.wait_for("four restarts", four_restarts, timeout=60)

    def crash_looping() -> dict[str, Any] | None:
        st = statuses(kp.pod("crash"))["main"]
        return st if "waiting" in st["state"] else None

    st = kp.wait_for("the container to wait in back-off", crash_looping, timeout=30)
    uid = kp.pod("crash")["metadata"]["uid"]
    waiting = st["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    assert re.fullmatch(
        rf"back-off \d+s restarting failed container=main pod=crash_default\({uid}\)",
        waiting["message"],
    ), waiting
    last = st["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error")
    assert st["ready"] is False

    table = kp.ok("get", "pods")
    assert re.search(
        r"^crash\s+0/1\s+(CrashLoopBackOff|Error)\s+\d+ \(\d+s ago\)\s", table, re.M
    ), table

    # One log per instance (N.log): when each started, as conmon stamped its first line.
    logs = kp.root / "pods" / uid / "logs" / "main"
    starts = [_cri_time((logs / f"{n}.log").read_text().split(" ", 1)[0]) for n in range(5)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # gap = run time + back-off: at once, then >= 1 s, >= 2 s, >= 4 s
    assert gaps[1] >= 1.0 and gaps[2] >= 2.0 and gaps[3] >= 4.0, gaps
    assert gaps[1] < gaps[2] < gaps[3], gaps

    assert kp.ok("logs", "crash").strip() == "run"
    events = kp.ok("get", "events")
    message = "Back-off restarting failed container main in pod crash_default"
    assert re.search(rf"Warning\s+BackOff\s+pod/crash\s+{message}", events), events


def test_always_on_failure_and_never_side_by_side(kp: Kubeplay) -> None:
    _backoff(kp, base=0.5)
    containers = {"ok": "sleep 0.2; exit 0", "bad": "sleep 0.2; exit 3"}
    path = kp.write(
        "policies.yaml",
        "---".join(
            pod_yaml(name, policy=policy, containers=containers)
            for name, policy in (
                ("always", "Always"),
                ("onfailure", "OnFailure"),
                ("never", "Never"),
            )
        ),
    )
    kp.play(path)

    def restarted() -> dict[str, dict[str, Any]] | None:
        pods = {
            p["metadata"]["name"]: p
            for p in json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
        }
        counts = [
            statuses(pods["always"])["ok"]["restartCount"],
            statuses(pods["always"])["bad"]["restartCount"],
            statuses(pods["onfailure"])["bad"]["restartCount"],
        ]
        return pods if min(counts) >= 2 else None

    pods = kp.wait_for("Always and OnFailure restarts", restarted, timeout=60)
    onfailure = statuses(pods["onfailure"])
    assert onfailure["ok"]["restartCount"] == 0
    assert onfailure["ok"]["state"]["terminated"]["reason"] == "Completed"
    assert pods["onfailure"]["status"]["phase"] == "Running"
    assert pods["always"]["status"]["phase"] == "Running"

    never = kp.pod("never")
    assert never["status"]["phase"] == "Failed"
    for name, code in (("ok", 0), ("bad", 3)):
        st = statuses(never)[name]
        assert st["restartCount"] == 0, st
        assert st["state"]["terminated"]["exitCode"] == code, st
    table = kp.ok("get", "pods")
    assert re.search(r"^never\s+0/2\s+(Error|Completed)\s+0\s", table, re.M), table


def test_init_container_is_retried_until_it_succeeds_and_get_pods_w_streams_it(
    kp: Kubeplay,
) -> None:
    """restartPolicy Always retries a failing init container with back-off; the app
    container starts once it succeeded. `get pods -w` prints each change of the row."""
    _backoff(kp, base=0.5, cap=2)
    # The init container fails its first four runs (counted in an emptyDir, which outlives
    # its restarts), so back-off windows of 0.5, 1 and 2 s come between them however slow
    # the host: `get pods -w` (polling every 0.5 s) sees the pod waiting in Init:.
    script = (
        "n=$(cat /work/n 2>/dev/null || echo 0); echo $((n+1)) > /work/n; echo try $n; [ $n -ge 4 ]"
    )
    text = pod_yaml("init", policy="Always", inits={"setup": script}, containers={"main": SLEEPER})
    text = text.replace(
        f'command: ["sh", "-c", {json.dumps(script)}]',
        f'command: ["sh", "-c", {json.dumps(script)}]\n'
        "    volumeMounts: [{name: work, mountPath: /work}]",
    )
    path = kp.write("init.yaml", text + "  volumes: [{name: work, emptyDir: {}}]\n")
    kp.play(path)
    with kp.watching("get", "pods", "-w") as lines:

        def running() -> dict[str, Any] | None:
            pod = kp.pod("init")
            return pod if "running" in statuses(pod)["main"]["state"] else None

        pod = kp.wait_for("the app container to run", running, timeout=60)
        kp.wait_for("a Running row", lambda: len(lines) > 1 and lines[-1].split()[2] == "Running")
    out = "".join(lines)
    setup = statuses(pod)["setup"]
    assert setup["restartCount"] >= 1, setup
    assert setup["state"]["terminated"]["exitCode"] == 0
    assert setup["lastState"]["terminated"]["exitCode"] == 1
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["Initialized"] == "True"

    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], out
    column = [line.split()[2] for line in lines[1:]]
    assert any(s in ("Init:Error", "Init:CrashLoopBackOff") for s in column), out
    assert column[-1] == "Running", out
    first_init = next(i for i, s in enumerate(column) if s.startswith("Init:"))
    assert "Running" in column[first_init:], out


def test_supervisor_killed_with_sigkill_stops_no_pod_and_a_read_command_restarts_it(
    kp: Kubeplay,
) -> None:
    path = kp.write("web.yaml", pod_yaml("web", policy="Always", containers={"main": SLEEPER}))
    kp.play(path)
    first = kp.wait_for("a supervisor", kp.supervisor_pid, timeout=10)
    # It runs in /, not in the directory of the command that started it (here the repo).
    assert os.readlink(f"/proc/{first}/cwd") == "/"
    cid = statuses(kp.pod("web"))["main"]["containerID"].split("://")[1]
    os.kill(first, signal.SIGKILL)
    kp.wait_for("the supervisor to die", lambda: not kp.supervisors(), timeout=10)
    assert kp.exec("web", "echo", "alive").strip() == "alive"

    # PID 1 traps TERM and exits 0: the container ends, and the kernel may kill the exec'd
    # `kill` with it (137) before it exits by itself
    res = kp("exec", "web", "--", "kill", "-TERM", "1")
    assert res.returncode in (0, 137), res
    kp.wait_for("the container to exit", (kp.root / "exits" / cid).exists)
    assert not kp.supervisors()  # exec reads no pod state: it started none

    # `get pods` shows a pod that needs supervision: it starts a supervisor, and says so.
    res = kp("get", "pods")
    assert res.returncode == 0, res
    assert "the supervisor was not running and pods need it: started it" in res.stderr, res
    second = kp.wait_for("a new supervisor", kp.supervisor_pid, timeout=10)
    assert second != first
    assert f"(pid {second})" in res.stderr

    def restarted() -> dict[str, Any] | None:
        st = statuses(kp.pod("web"))["main"]
        return st if st["restartCount"] == 1 and "running" in st["state"] else None

    st = kp.wait_for("the new supervisor to restart it", restarted)
    assert st["lastState"]["terminated"]["exitCode"] == 0
    assert st["lastState"]["terminated"]["reason"] == "Completed"
    assert kp.exec("web", "echo", "again").strip() == "again"
    assert f"Supervisor:   running (pid {second})" in kp.ok("describe", "pod", "web")

    # describe shows it when none runs (a pod that needs none, so nothing restarts one).
    kp.ok("delete", "pod", "web")
    kp.wait_for("the supervisor to exit", lambda: not kp.supervisors(), timeout=15)
    done = kp.write("done.yaml", pod_yaml("done", policy="Never", containers={"main": "true"}))
    kp.play(done)
    kp.wait_for("the pod to complete", lambda: kp.pod("done")["status"]["phase"] == "Succeeded")
    kp.wait_for("the supervisor to exit", lambda: not kp.supervisors(), timeout=15)
    out = kp("describe", "pod", "done")
    assert "Supervisor:   not running" in out.stdout, out
    assert "started it" not in out.stderr


def test_events_of_a_pod_in_get_events_and_describe(kp: Kubeplay) -> None:
    _backoff(kp, base=0.5)
    path = kp.write(
        "ev.yaml",
        pod_yaml("ev", policy="Always", containers={"main": SLEEPER, "crash": "sleep 0.3; exit 2"}),
    )
    kp.play(path)
    with kp.watching("get", "events", "-w") as lines:

        def backoff_seen() -> str | None:
            out = kp.ok("get", "events")
            return out if "BackOff" in out else None

        table = kp.wait_for("a BackOff event", backoff_seen, timeout=30)
        kp.wait_for("BackOff streamed", lambda: any("BackOff" in line for line in lines))
    lines = table.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], table
    expected = [
        ("Normal", "Scheduled", "Successfully assigned default/ev to localhost"),
        ("Normal", "Pulled", f'Container image "{IMAGE}" already present on machine'),
        ("Normal", "Created", "Created container: main"),
        ("Normal", "Started", "Started container main"),
        ("Normal", "Created", "Created container: crash"),
        ("Normal", "Started", "Started container crash"),
        ("Warning", "BackOff", "Back-off restarting failed container crash in pod ev_default("),
    ]
    for type_, reason, message in expected:
        assert re.search(
            rf"^\S+\s+{type_}\s+{reason}\s+pod/ev\s+{re.escape(message)}", table, re.M
        ), (reason, table)

    described = kp.ok("describe", "pod", "ev")
    section = described[described.index("\nEvents:") :]
    assert re.search(r"^\s+Type\s+Reason\s+Age\s+From\s+Message$", section, re.M), section
    assert re.search(
        r"^\s+Normal\s+Scheduled\s+\S+\s+default-scheduler\s+"
        r"Successfully assigned default/ev to localhost$",
        section,
        re.M,
    ), section
    assert re.search(
        r"^\s+Normal\s+Started\s+.*kubelet\s+Started container main$", section, re.M
    ), section
    assert re.search(r"^\s+Warning\s+BackOff\s+", section, re.M), section

    kp.ok("delete", "pod", "ev")
    assert "pod/ev" not in kp.ok("get", "events", "-A")


def test_wait_for_any_condition_and_for_delete(kp: Kubeplay) -> None:
    _backoff(kp, base=0.5)
    good = kp.write("good.yaml", pod_yaml("good", policy="Always", containers={"main": SLEEPER}))
    # A crash loop is Ready for a moment between each restart and its exit (no readiness
    # probe: running is ready), so `wait --for=condition=Ready` could catch it. A readiness
    # probe that never succeeds keeps it not Ready through every restart, as in a cluster.
    bad = kp.write(
        "bad.yaml",
        pod_yaml("bad", policy="Always", containers={"main": "exit 1"}).replace(
            '"exit 1"]',
            '"exit 1"]\n    readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}',
        ),
    )
    kp.play(good)
    kp.play(bad)
    for condition in ("Ready", "Initialized", "ContainersReady", "PodScheduled", "ready"):
        out = kp.ok("wait", "pod/good", f"--for=condition={condition}", "--timeout=30s")
        assert out.strip() == "pod/good condition met"
    out = kp.ok("wait", "pod/bad", "--for=condition=Ready=false", "--timeout=30s")
    assert out.strip() == "pod/bad condition met"
    res = kp("wait", "pod/bad", "--for=condition=Ready", "--timeout=2s")
    assert res.returncode == 1
    assert "timed out waiting for the condition on pods/bad" in res.stderr

    waiter = kp.popen("wait", "pod/good", "--for=delete", "--timeout=60s")
    time.sleep(0.5)
    assert waiter.poll() is None, waiter.communicate()
    kp.ok("delete", "pod", "good")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert out.strip() == "pod/good condition met"


def test_down_while_the_supervisor_restarts_is_race_free(kp: Kubeplay) -> None:
    """The supervisor takes the pod's lock and leaves terminating pods alone: `down` in the
    middle of a crash loop removes everything and nothing is started again."""
    _backoff(kp, base=0.1, cap=0.2)
    path = kp.write(
        "loop.yaml",
        pod_yaml("loop", policy="Always", containers={"a": "exit 1", "b": "sleep 0.05; exit 1"}),
    )
    for _ in range(3):
        kp.play(path)
        kp.wait_for(
            "restarts", lambda: statuses(kp.pod("loop"))["a"]["restartCount"] >= 2, timeout=30
        )
        kp.ok("down", str(path))
        assert kp.pod_names() == []
        leaks = kp.leaks()
        assert leaks == [], leaks


def test_leak_check_sees_a_supervisor_of_the_test_left_running(kp: Kubeplay) -> None:
    agent = subprocess.Popen(
        kp.argv("agent"), env=kp.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        pid = kp.wait_for("the agent's pid file", kp.supervisor_pid, timeout=10)
        assert pid == agent.pid
        assert agent.pid in kp.processes()
        assert any("supervisor" in leak for leak in kp.leaks(settle=0.5))
        second = kp("agent")  # one per install: a second one says so and exits
        assert second.returncode == 0
        assert "runs already" in second.stdout
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)
    assert kp.supervisors() == {}
    assert not Path(kp.runroot / "supervisor.pid").exists()


def _probed_web() -> str:
    from e2e.images import HTTPD_IMAGE

    script = "touch /tmp/alive; trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait $!"
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {HTTPD_IMAGE}
    command: ["/bin/sh", "-c", {json.dumps(script)}]
    ports:
    - name: http
      containerPort: 80
    readinessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 1
    livenessProbe:
      exec:
        command: ["test", "-e", "/tmp/alive"]
      periodSeconds: 1
      failureThreshold: 1
"""


def _ready(kp: Kubeplay) -> tuple[bool, str]:
    pod = kp.pod("web")
    cond = next(c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready")
    return statuses(pod)["web"]["ready"], cond


def test_readiness_http_get_probe_run_by_the_supervisor_drives_ready(kp: Kubeplay) -> None:
    """The image has no wget, nc or curl: the supervisor's Prober connects from the host."""
    from e2e.images import import_httpd_image

    import_httpd_image(kp)
    kp.play(kp.write("web.yaml", _probed_web()))
    out = kp.ok("wait", "pod/web", "--for=condition=Ready", "--timeout=30s")
    assert out.strip() == "pod/web condition met"
    assert _ready(kp) == (True, "True")

    kp.exec("web", "rm", "/var/www/healthz")
    kp.wait_for("not ready", lambda: _ready(kp) == (False, "False"))
    assert re.search(r"^web\s+0/1\s+Running\s+0\s", kp.ok("get", "pods"), re.M)
    events = kp.ok("get", "events")
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in events, events

    kp.exec("web", "sh", "-c", "echo ok > /var/www/healthz")
    kp.wait_for("ready again", lambda: _ready(kp) == (True, "True"))
    assert statuses(kp.pod("web"))["web"]["restartCount"] == 0


def test_liveness_failure_restarts_the_container(kp: Kubeplay) -> None:
    from e2e.images import import_httpd_image

    import_httpd_image(kp)
    kp.play(kp.write("web.yaml", _probed_web()))
    kp.ok("wait", "pod/web", "--for=condition=Ready", "--timeout=30s")
    first = statuses(kp.pod("web"))["web"]["containerID"]

    kp.exec("web", "rm", "/tmp/alive")

    def restarted() -> dict[str, Any] | None:
        st = statuses(kp.pod("web"))["web"]
        return st if st["restartCount"] == 1 and "running" in st["state"] else None

    st = kp.wait_for("the liveness restart", restarted, timeout=30)
    assert st["containerID"] != first
    assert "terminated" in st["lastState"]
    events = kp.ok("get", "events")
    assert re.search(r"Warning\s+Unhealthy\s+pod/web\s+Liveness probe failed", events), events
    assert re.search(
        r"Normal\s+Killing\s+pod/web\s+Container web failed liveness probe, will be restarted",
        events,
    ), events
    kp.ok("wait", "pod/web", "--for=condition=Ready", "--timeout=30s")  # the new instance
    assert kp.exec("web", "test", "-e", "/tmp/alive") == ""


def test_the_supervisor_of_probed_pods_imports_only_what_it_uses(kp: Kubeplay) -> None:
    """The background supervisor lives as long as its pods, so every module it imports is
    memory that each running pod pays for (issue 11: memory per pod against podman's).
    With a pod Ready through an httpGet probe it has run its start-up, full passes and
    probes; it must not have imported the CLI, the manifest loader and validators, or
    what only watched sources need. Python's own import log (PYTHONPROFILEIMPORTTIME,
    inherited by the supervisor, which writes stderr to its log) lists every module."""
    from e2e.images import import_httpd_image

    import_httpd_image(kp)
    kp.env["PYTHONPROFILEIMPORTTIME"] = "1"
    kp.play(kp.write("web.yaml", _probed_web()))
    del kp.env["PYTHONPROFILEIMPORTTIME"]
    kp.ok("wait", "pod/web", "--for=condition=Ready", "--timeout=30s")
    log = (kp.runroot / "supervisor.log").read_text()
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", log, re.M))
    assert {"kubeplay.engine.supervisor", "kubeplay.engine.prober"} <= imported, log[:2000]
    # Python logs failed imports too (structlog tries rich, which the supervisor blocks):
    # a package's submodule shows that it was really loaded.
    unused = {
        "click.core",  # the CLI (the background supervisor starts through cli/agent.py)
        "rich.console",
        "kubeplay.cli.main",
        "yaml",  # manifests are parsed by commands (and for watched sources)
        "jsonschema.validators",
        "kubernetes_validate.utils",
        "kubeplay.kube.loader",
        "kubeplay.kube.validate",  # the probes' User-Agent names the bundled version
        "kubeplay.services.sources",  # watched sources: none here
        "watchdog.observers",
        "kubeplay.engine.controllers.deployments",  # no workload object is stored
        "kubeplay.engine.controllers.jobs",
        "kubeplay.plan.statefulset",
    }
    assert not unused & imported, sorted(unused & imported)
