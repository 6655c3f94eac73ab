"""Recovery as the kubelet does it: a pod whose sandbox (infra process) dies gets a new one
(SandboxChanged: new netns, same IP, containers restarted per restartPolicy); after a reboot
(simulated: every process of the test's roots killed, its mounts gone, its run root
emptied, a new boot id) the first supervisor brings back every pod that should run; and
runtime containers or namespaces under kubeplay's roots that the store does not know are
removed by the supervisor when it starts.
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-sandbox-ready
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SLEEPER, Kubeplay
from e2e.test_supervisor import pod_yaml, statuses

pytestmark = pytest.mark.root


def _processes(kp: Kubeplay, comm: str) -> list[int]:
    """Pids of processes named `comm` in a container of the test (by its cgroup)."""
    runtime = kp.runroot / "runtime"
    cids = {p.name for p in runtime.iterdir()} if runtime.is_dir() else set()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        if name == comm and any(f"/kubeplay/{cid}" in cgroup for cid in cids):
            found.append(int(entry.name))
    return found


def _running(kp: Kubeplay, name: str, *, restarts: int) -> dict[str, Any] | None:
    """The pod, once Running with every app container running after `restarts` restarts."""
    pod = kp.pod(name)
    if pod["status"]["phase"] != "Running":
        return None
    st = pod["status"].get("containerStatuses", [])
    if all("running" in s["state"] and s["restartCount"] == restarts for s in st):
        return pod
    return None


def _reasons(kp: Kubeplay) -> str:
    return kp.ok("get", "events")


def test_infra_killed_sandbox_is_made_again_with_the_same_ip(kp: Kubeplay) -> None:
    path = kp.write(
        "web.yaml",
        pod_yaml("web", policy="Always", containers={"main": SLEEPER, "side": SLEEPER}),
    )
    kp.play(path)
    before = kp.pod("web")
    ip = before["status"]["podIP"]
    netns = os.stat(kp.runroot / "netns" / before["metadata"]["uid"]).st_ino
    [infra] = _processes(kp, "catatonit")
    os.kill(infra, signal.SIGKILL)

    pod = kp.wait_for("the pod back with a new sandbox", lambda: _running(kp, "web", restarts=1))
    assert pod["status"]["podIP"] == ip
    uid = pod["metadata"]["uid"]
    assert os.stat(kp.runroot / "netns" / uid).st_ino != netns, "the netns was not made again"
    assert _processes(kp, "catatonit") != [infra]
    events = _reasons(kp)
    assert "SandboxChanged" in events
    assert "Pod sandbox changed, it will be killed and re-created." in events
    # The containers share the new sandbox's namespaces: its network and its UTS (hostname).
    assert kp.exec("web", "hostname").strip() == "web"
    assert ip in kp.exec("web", "ip", "-4", "addr", "show", "eth0")
    shared = kp.exec("web", "readlink", "/proc/self/ns/ipc", container="main")
    assert kp.exec("web", "readlink", "/proc/self/ns/ipc", container="side") == shared


def test_infra_killed_never_pod_ends_and_is_not_made_again(kp: Kubeplay) -> None:
    path = kp.write("once.yaml", pod_yaml("once", policy="Never", containers={"main": SLEEPER}))
    kp.play(path)
    [infra] = _processes(kp, "catatonit")
    os.kill(infra, signal.SIGKILL)

    def ended() -> dict[str, Any] | None:
        pod = kp.pod("once")
        return pod if pod["status"]["phase"] in ("Failed", "Succeeded") else None

    pod = kp.wait_for("the pod to end", ended)
    main = statuses(pod)["main"]
    assert main["restartCount"] == 0 and "terminated" in main["state"]
    assert _processes(kp, "catatonit") == []
    assert "SandboxChanged" not in _reasons(kp)


def test_containers_join_the_pinned_ipc_and_uts_namespaces_also_after_a_restart(
    kp: Kubeplay,
) -> None:
    """issue 16: a restart must never join a namespace through a bare pid (a reused one put a
    hostNetwork pod's container into the host's IPC namespace). Both containers of a
    hostNetwork pod, and the restarted one, are in the pod's pinned IPC namespace."""
    kp.env["KUBEPLAY_BACKOFF_BASE"] = "0.2"
    path = kp.write(
        "hostnet.yaml",
        pod_yaml("hostnet", policy="Always", containers={"a": SLEEPER, "b": SLEEPER}).replace(
            "  restartPolicy:", "  hostNetwork: true\n  restartPolicy:"
        ),
    )
    kp.play(path)
    uid = kp.pod("hostnet")["metadata"]["uid"]
    pinned = os.stat(kp.runroot / "podns" / uid / "ipc").st_ino
    assert pinned != os.stat("/proc/self/ns/ipc").st_ino

    def ipc(container: str) -> int:
        link = kp.exec("hostnet", "readlink", "/proc/self/ns/ipc", container=container)
        return int(link.strip().removeprefix("ipc:[").removesuffix("]"))

    assert ipc("a") == ipc("b") == pinned
    # SLEEPER exits 0 on TERM; the exec'd kill may die with the container (137)
    res = kp("exec", "hostnet", "-c", "b", "--", "kill", "-TERM", "1")
    assert res.returncode in (0, 137), res

    def restarted() -> bool:
        b = statuses(kp.pod("hostnet"))["b"]
        return b["restartCount"] == 1 and "running" in b["state"]

    kp.wait_for("b restarted", restarted)
    assert ipc("b") == pinned


# --- a simulated reboot -----------------------------------------------------------------------


def _simulate_reboot(kp: Kubeplay) -> None:
    """What a reboot does to kubeplay's roots: every process gone (conmons first, so that no
    exit is recorded for a container that was running, as when the power goes), every mount
    gone, the run root (a tmpfs) empty; then a new boot id."""

    def kill(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    for pid in kp.supervisors():
        kill(pid)
    kp.wait_for("the supervisor to die", lambda: not kp.supervisors(), timeout=10)
    procs = kp.processes()
    conmons = [pid for pid, cmd in procs.items() if cmd.startswith("conmon ")]
    for pid in conmons:
        kill(pid)
    for pid in procs:  # the containers' processes, and dnsmasq: nothing survives a reboot
        kill(pid)
    kp.wait_for("every process of the test to die", lambda: not kp.processes(), timeout=10)
    for target in sorted(kp.mounts(), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=True)
    runtime_root = kp.runroot / "runtime"
    for cgroup in kp.cgroups():  # a reboot leaves no cgroup either
        os.rmdir(cgroup)
    for entry in kp.runroot.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    assert not runtime_root.exists()
    # The node network of the old boot is gone as well.
    subprocess.run(["ip", "link", "del", kp.bridge], capture_output=True, check=False)
    table = "kubeplay_" + kp.bridge.replace("-", "_")
    subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True, check=False)
    kp.env["KUBEPLAY_BOOT_ID"] = str(uuid.uuid4())


def test_reboot_brings_back_pods_that_should_run_and_keeps_finished_ones(kp: Kubeplay) -> None:
    always = kp.write(
        "always.yaml",
        pod_yaml(
            "always",
            policy="Always",
            containers={"main": SLEEPER},
            inits={"setup": "echo ready > /dev/null"},
        ),
    )
    onfail = kp.write(
        "onfail.yaml", pod_yaml("onfail", policy="OnFailure", containers={"main": SLEEPER})
    )
    done = kp.write("done.yaml", pod_yaml("done", policy="OnFailure", containers={"main": "true"}))
    never = kp.write("never.yaml", pod_yaml("never", policy="Never", containers={"main": SLEEPER}))
    kp.play(always, onfail, done, never)
    kp.wait_for("pod done to complete", lambda: kp.pod("done")["status"]["phase"] == "Succeeded")
    ips = {name: kp.pod(name)["status"]["podIP"] for name in ("always", "onfail")}

    _simulate_reboot(kp)
    # The first agent brings back what should run, then exits once nothing needs it.
    agent = kp.popen("agent", "--idle-exit")
    try:
        for name in ("always", "onfail"):
            pod = kp.wait_for(f"pod {name} back", lambda n=name: _running(kp, n, restarts=1))
            assert pod["status"]["podIP"] == ips[name]
            last = statuses(pod)["main"]["lastState"].get("terminated")
            assert last is not None, f"{name}: {json.dumps(pod['status'])}\n{_reasons(kp)}"
            assert last["exitCode"] != 0
        assert kp.exec("always", "echo", "alive").strip() == "alive"
        finished = kp.pod("done")
        assert finished["status"]["phase"] == "Succeeded"
        assert statuses(finished)["main"]["restartCount"] == 0
        gone = kp.pod("never")
        assert gone["status"]["phase"] == "Failed"
        assert statuses(gone)["main"]["restartCount"] == 0
    finally:
        kp.ok("down", str(always), str(onfail), str(done), str(never))
        agent.communicate(timeout=30)


def test_after_a_reboot_any_command_that_starts_the_supervisor_brings_pods_back(
    kp: Kubeplay,
) -> None:
    first = kp.write("first.yaml", pod_yaml("first", policy="Always", containers={"a": SLEEPER}))
    kp.play(first)
    _simulate_reboot(kp)
    second = kp.write("second.yaml", pod_yaml("second", policy="Never", containers={"a": SLEEPER}))
    kp.play(second)  # starts the supervisor in the background, as after any play
    kp.wait_for("pod first back", lambda: _running(kp, "first", restarts=1))
    assert _running(kp, "second", restarts=0)


# --- garbage collection of what the store does not know -----------------------------------------


def test_supervisor_removes_runtime_containers_and_netns_the_store_does_not_know(
    kp: Kubeplay,
) -> None:
    path = kp.write("keep.yaml", pod_yaml("keep", policy="Always", containers={"main": SLEEPER}))
    kp.play(path)
    orphan = kp.write("orphan.yaml", pod_yaml("orphan", policy="Always", containers={"x": SLEEPER}))
    kp.play(orphan)
    uid = kp.pod("orphan")["metadata"]["uid"]
    # Forget the pod in the store only, as a lost or restored database would.
    sup = kp.supervisor_pid()
    if sup is not None:
        os.kill(sup, signal.SIGKILL)
        kp.wait_for("the supervisor to die", lambda: not kp.supervisors())
    with contextlib.closing(sqlite3.connect(kp.root / "state.db")) as db, db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM pods WHERE uid = ?", (uid,))
    assert (kp.runroot / "netns" / uid).exists()

    agent = kp.popen("agent", "--idle-exit")
    kp.wait_for(
        "the unknown pod's netns to be removed",
        lambda: not (kp.runroot / "netns" / uid).exists(),
    )
    kp.wait_for(
        "the unknown pod's containers to be removed",
        lambda: len(list((kp.runroot / "runtime").iterdir())) == 2,  # keep: infra and main
    )
    kp.wait_for(
        "the unknown pod's directory and namespace pins to be removed",
        lambda: not (kp.root / "pods" / uid).exists() and not (kp.runroot / "podns" / uid).exists(),
    )
    assert not [m for m in kp.mounts() if uid in m]
    assert kp.exec("keep", "echo", "alive").strip() == "alive"
    kp.ok("down", str(path))
    agent.communicate(timeout=30)
    log = (kp.runroot / "supervisor.log").read_text()
    assert "orphan_container_removed" in log and "orphan_netns_removed" in log


def test_system_reset_removes_what_the_store_does_not_know(kp: Kubeplay) -> None:
    path = kp.write("lost.yaml", pod_yaml("lost", policy="Always", containers={"x": SLEEPER}))
    kp.play(path)
    uid = kp.pod("lost")["metadata"]["uid"]
    for pid in kp.supervisors():
        os.kill(pid, signal.SIGKILL)
    kp.wait_for("the supervisor to die", lambda: not kp.supervisors())
    with contextlib.closing(sqlite3.connect(kp.root / "state.db")) as db, db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM pods WHERE uid = ?", (uid,))
    kp.ok("system", "reset", "--force", timeout=120)
    assert kp.leaks(node=True) == []
