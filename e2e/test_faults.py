"""The fault suite: kill -9 of `play` at ten steps, of `down`, of the supervisor, of a conmon,
of the infra process and of an app process; each time the next supervisor converges (within
one pass: a running pod or nothing, never a pod left ContainerCreating, never a supervisor
that does not exit) and the `kp` fixture's full leak check passes.

Commands kill themselves at a named step through the test-only KUBEPLAY_TEST_CRASH_AT hook
(kubeplay/crash.py); processes of a pod are killed from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SLEEPER, Kubeplay
from e2e.test_recovery import _processes, _running
from e2e.test_supervisor import pod_yaml, statuses

pytestmark = pytest.mark.root

CRASH = "KUBEPLAY_TEST_CRASH_AT"


def _crashing(kp: Kubeplay, step: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `kubeplay ARGS` set to SIGKILL itself at `step`; assert that it did."""
    kp.env[CRASH] = step
    try:
        res = kp(*args)
    finally:
        del kp.env[CRASH]
    assert res.returncode == -signal.SIGKILL, (
        f"kubeplay {' '.join(args)} did not crash at {step}: {res.returncode}\n{res.stderr}"
    )
    return res


def _agent(kp: Kubeplay) -> subprocess.Popen[str]:
    """The next supervisor, as `kubeplay agent --idle-exit` (exits once nothing needs it)."""
    return kp.popen("agent", "--idle-exit")


def _stop_supervisors(kp: Kubeplay) -> None:
    for pid in kp.supervisors():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    kp.wait_for("the supervisor to die", lambda: not kp.supervisors(), timeout=10)


def _nothing_or_running(kp: Kubeplay, name: str) -> str:
    items = json.loads(kp.ok("get", "pods", "-A", "-o", "json"))["items"]
    if not items:
        return "nothing"
    if [i["metadata"]["name"] for i in items] != [name]:
        return ""
    status = items[0]["status"]
    running = all("running" in s["state"] for s in status.get("containerStatuses", []))
    return "running" if status["phase"] == "Running" and running else ""


# Ten steps of a play of one pod with two containers (infra: the first container created and
# started; #2 and #3 the app containers). Before its pods are synced the play is rolled back
# (as its user was told nothing); after, the pod is kept and supervised.
PLAY_STEPS = [
    pytest.param("play-stored", "nothing", id="after-the-store-write"),
    pytest.param("sandbox-network", "nothing", id="netns-wired-containers-being-made"),
    pytest.param("container-created#1", "nothing", id="infra-created-not-started"),
    pytest.param("container-started#1", "nothing", id="infra-started"),
    pytest.param("sandbox-infra", "nothing", id="sandbox-ready"),
    pytest.param("container-created#2", "nothing", id="first-app-container-created"),
    pytest.param("container-started#2", "nothing", id="first-app-container-started"),
    pytest.param("container-created#3", "nothing", id="second-app-container-created"),
    pytest.param("play-synced", "running", id="synced-before-network-refresh"),
    pytest.param("play-done", "running", id="done-before-the-supervisor"),
]


@pytest.mark.parametrize(("step", "outcome"), PLAY_STEPS)
def test_play_killed_at_a_step_converges_to_a_running_pod_or_nothing(
    kp: Kubeplay, step: str, outcome: str
) -> None:
    path = kp.write(
        "web.yaml", pod_yaml("web", policy="Always", containers={"a": SLEEPER, "b": SLEEPER})
    )
    _crashing(kp, step, "play", str(path))
    agent = _agent(kp)
    try:
        got = kp.wait_for("a running pod or nothing", lambda: _nothing_or_running(kp, "web"))
        assert got == outcome
        if got == "running":
            assert kp.exec("web", "echo", "alive", container="b").strip() == "alive"
            kp.ok("down", str(path))
    finally:
        _, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    assert kp.leaks() == []


@pytest.mark.parametrize("step", ["down-stopped", "down-containers"])
def test_down_killed_at_a_step_is_finished_by_the_supervisor(kp: Kubeplay, step: str) -> None:
    path = kp.write("web.yaml", pod_yaml("web", policy="Always", containers={"a": SLEEPER}))
    kp.play(path)
    _stop_supervisors(kp)
    _crashing(kp, step, "down", str(path))
    agent = _agent(kp)
    try:
        kp.wait_for("the removal to be finished", lambda: not kp.pod_names())
    finally:
        _, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    kp.assert_nothing_runs()


def test_supervisor_killed_while_it_syncs_a_pod_the_next_one_converges(kp: Kubeplay) -> None:
    kp.env["KUBEPLAY_BACKOFF_BASE"] = "0.2"
    path = kp.write("web.yaml", pod_yaml("web", policy="Always", containers={"a": SLEEPER}))
    kp.play(path)
    cid = statuses(kp.pod("web"))["a"]["containerID"].split("://")[1]
    _stop_supervisors(kp)
    for pid in _processes(kp, "sh"):  # the app container's PID 1
        os.kill(pid, signal.SIGKILL)
    # Its exit file, not `get` (a read would start a supervisor, which would restart it).
    kp.wait_for("the container to exit", (kp.root / "exits" / cid).exists)
    kp.env[CRASH] = "supervisor-sync"
    try:
        crashed = kp("agent", "--idle-exit")
    finally:
        del kp.env[CRASH]
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    agent = _agent(kp)
    try:
        pod = kp.wait_for("the pod restarted", lambda: _running(kp, "web", restarts=1))
        last = statuses(pod)["a"]["lastState"]["terminated"]
        assert last["exitCode"] == 137
        kp.ok("down", str(path))
    finally:
        agent.communicate(timeout=30)


def _state(kp: Kubeplay, pod: str, container: str) -> dict[str, Any]:
    state: dict[str, Any] = statuses(kp.pod(pod))[container]["state"]
    return state


def _conmon_of(kp: Kubeplay, cid: str) -> int:
    pid = int((kp.runroot / "persist" / cid / "conmon.pid").read_text())
    assert cid in Path(f"/proc/{pid}/cmdline").read_text()
    return pid


def test_conmon_killed_the_container_runs_on_and_is_restarted_once_it_exits(
    kp: Kubeplay,
) -> None:
    path = kp.write("web.yaml", pod_yaml("web", policy="Always", containers={"a": SLEEPER}))
    kp.play(path)
    cid = statuses(kp.pod("web"))["a"]["containerID"].split("://")[-1]
    os.kill(_conmon_of(kp, cid), signal.SIGKILL)
    # The container outlives its monitor, as it outlives kubeplay: still running.
    assert kp.exec("web", "echo", "alive").strip() == "alive"
    assert "running" in _state(kp, "web", "a")
    # Its exit, unrecorded without conmon, is seen from its pid and start time.
    for pid in _processes(kp, "sh"):
        os.kill(pid, signal.SIGKILL)
    pod = kp.wait_for("the container restarted", lambda: _running(kp, "web", restarts=1))
    assert statuses(pod)["a"]["lastState"]["terminated"]["exitCode"] == 137


def test_app_process_killed_the_container_is_restarted(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", pod_yaml("web", policy="Always", containers={"a": SLEEPER}))
    kp.play(path)
    for pid in _processes(kp, "sh"):
        os.kill(pid, signal.SIGKILL)
    pod = kp.wait_for("the container restarted", lambda: _running(kp, "web", restarts=1))
    assert statuses(pod)["a"]["lastState"]["terminated"]["exitCode"] == 137
    assert kp.exec("web", "echo", "alive").strip() == "alive"


def test_infra_process_killed_the_pod_gets_a_new_sandbox(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", pod_yaml("web", policy="OnFailure", containers={"a": SLEEPER}))
    kp.play(path)
    [infra] = _processes(kp, "catatonit")
    os.kill(infra, signal.SIGKILL)
    kp.wait_for("the pod back", lambda: _running(kp, "web", restarts=1))
    assert kp.exec("web", "echo", "alive").strip() == "alive"


@pytest.mark.parametrize(
    ("step", "outcome"),
    [
        pytest.param("apply-stored", "nothing", id="after-the-store-write"),
        pytest.param("container-created#2", "nothing", id="app-container-created"),
        pytest.param("apply-synced", "running", id="synced-before-network-refresh"),
    ],
)
def test_apply_killed_at_a_step_converges_to_a_running_pod_or_nothing(
    kp: Kubeplay, step: str, outcome: str
) -> None:
    path = kp.write("web.yaml", pod_yaml("web", policy="Always", containers={"a": SLEEPER}))
    _crashing(kp, step, "apply", "-f", str(path))
    agent = _agent(kp)
    try:
        got = kp.wait_for("a running pod or nothing", lambda: _nothing_or_running(kp, "web"))
        assert got == outcome
        # apply again converges either way: the pod runs, made once
        kp.ok("apply", "-f", str(path))
        assert _nothing_or_running(kp, "web") == "running"
        kp.ok("delete", "-f", str(path))
    finally:
        _, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    assert kp.leaks() == []


def _overlapping_files(kp: Kubeplay, count: int) -> list[Path]:
    """File i defines pods p<i> and p<i+1> (mod count): every pod is in two files."""
    return [
        kp.write(
            f"f{i}.yaml",
            pod_yaml(f"p{i}", policy="Always", containers={"a": SLEEPER})
            + "---\n"
            + pod_yaml(f"p{(i + 1) % count}", policy="Always", containers={"a": SLEEPER}),
        )
        for i in range(count)
    ]


def test_eight_commands_at_once_on_overlapping_files_keep_the_store_consistent(
    kp: Kubeplay,
) -> None:
    """20 rounds of 8 commands at once (apply, play, delete -f, down, get) on files that share
    pods: each finishes with 0 or 1 and a clear message, never a traceback or a hang; after
    each round every stored pod runs (none left half-made); at the end nothing leaks."""
    files = [str(f) for f in _overlapping_files(kp, 4)]
    commands: list[tuple[str, ...]] = [
        ("apply", "-f", files[0]),
        ("apply", "-f", files[1]),
        ("play", files[2]),
        ("apply", "-f", files[3]),
        ("delete", "-f", files[0]),
        ("down", files[2]),
        ("apply", "-f", files[1]),
        ("get", "pods", "-A", "-o", "json"),
    ]
    said: list[str] = []
    for round_ in range(20):
        order = commands[round_ % 8 :] + commands[: round_ % 8]
        for res, args in zip(kp.together(*order), order, strict=True):
            assert res.returncode in (0, 1), (round_, args, res.returncode, res.stderr)
            assert "Traceback" not in res.stderr, (round_, args, res.stderr)
            said.extend(res.stdout.split())
        items = json.loads(kp.ok("get", "pods", "-A", "-o", "json"))["items"]
        names = [i["metadata"]["name"] for i in items]
        assert len(names) == len(set(names)), (round_, names)
        for item in items:
            assert item["status"]["phase"] == "Running", (round_, item["status"])
    # the commands did work, not only refuse each other
    assert "created" in said and ("deleted" in said or "pruned" in said), sorted(set(said))
    for path in files:
        kp(*("delete", "-f", path))
        kp(*("down", path))
    kp.assert_nothing_runs()
    assert kp.leaks() == []
