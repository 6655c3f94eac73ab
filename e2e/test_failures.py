"""Bad input and failures: every document is checked before anything is created, a play that
fails halfway removes what it made, and kubeplay refuses to run without root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import IMAGE, REPO, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def sleeper(name: str, image: str = IMAGE, command: str = f'["sh", "-c", "{SLEEPER}"]') -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
        f"  - name: main\n    image: {image}\n    command: {command}\n"
    )


def _line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def test_unknown_field_in_a_second_document_is_rejected_and_nothing_is_created(
    kp: Kubeplay,
) -> None:
    path = kp.write(
        "pods.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: good
        spec:
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
          - name: main
            imagee: {IMAGE}
        """,
    )
    res = kp("play", str(path))
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr
    assert str(path) in res.stderr
    assert "document 2" in res.stderr
    assert "Pod web" in res.stderr
    assert "spec.containers[0].imagee" in res.stderr
    assert "unknown field" in res.stderr
    assert f"{path}:{_line_of(path, 'imagee')}" in res.stderr, res.stderr
    assert res.stdout == ""
    assert not kp.ids, "a container was created"
    kp.assert_nothing_runs()


def test_bad_yaml_is_rejected_with_its_line(kp: Kubeplay) -> None:
    path = kp.write(
        "broken.yaml",
        sleeper("first")
        + "---\n"
        + "apiVersion: v1\n"
        + "kind: Pod\n"
        + "metadata:\n"
        + "  name: second\n"
        + "  labels: {app: [unclosed\n"
        + "spec:\n"
        + "  containers: []\n",
    )
    res = kp("play", str(path))
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr
    assert str(path) in res.stderr
    # The parser reports where it stopped: the line with the unclosed bracket or the next.
    lines = {_line_of(path, "[unclosed"), _line_of(path, "[unclosed") + 1}
    assert any(re.search(rf"\b{n}\b", res.stderr) for n in lines), res.stderr
    assert not kp.ids
    kp.assert_nothing_runs()


def test_missing_image_warns_and_leaves_the_container_waiting_err_image_pull(
    kp: Kubeplay,
) -> None:
    # A pull that fails is not a manifest error: as the kubelet does, the pod is created and
    # its container waits with ErrImagePull; play exits 0 and warns naming pod, container,
    # image and the reason. (No podman storage here: the test's storage.conf names none.)
    conf = kp.write("storage.conf", f'[storage]\ngraphroot = "{kp.tmp}/no-podman"\n')
    kp.env["CONTAINERS_STORAGE_CONF"] = str(conf)
    path = kp.write(
        "images.yaml",
        sleeper("has-image") + "---\n" + sleeper("no-image", image="localhost/nope:1.0"),
    )
    res = kp("play", str(path))
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    warning = next(ln for ln in res.stderr.splitlines() if "no-image" in ln)
    assert warning.startswith("warning: pod default/no-image: container main: ")
    assert "localhost/nope:1.0" in warning and "ErrImagePull" in warning, warning
    assert sorted(res.stdout.split()) == ["created", "created", "pod/has-image", "pod/no-image"]
    status = kp.pod("no-image")["status"]
    assert status["phase"] == "Pending"
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert "localhost/nope:1.0" in waiting["message"]
    assert kp.pod("has-image")["status"]["phase"] == "Running"
    kp.ok("down", str(path))
    kp.assert_nothing_runs()


def test_playing_twice_says_already_exists_and_replace_plays_it_again(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", sleeper("web"))
    kp.play(path)
    uid = kp.pod("web")["metadata"]["uid"]

    again = kp("play", str(path))
    assert again.returncode == 1, again
    assert "already exists" in again.stderr
    assert "web" in again.stderr
    assert "Traceback" not in again.stderr
    assert kp.pod("web")["metadata"]["uid"] == uid
    assert kp.exec("web", "echo", "untouched") == "untouched\n"

    replaced = kp("play", "--replace", str(path))
    assert replaced.returncode == 0, replaced
    assert replaced.stdout.splitlines() == ["pod/web replaced"]  # said once, as kubectl
    pod = kp.pod("web")
    assert pod["metadata"]["uid"] != uid
    assert pod["status"]["phase"] == "Running"
    assert kp.exec("web", "echo", "new") == "new\n"
    assert re.search(r"^web\s+1/1\s+Running\s+0\s", kp.ok("get", "pods"), re.M)
    # Exactly one pod's worth of containers remains: the old pod is fully gone.
    assert len(list((kp.runroot / "runtime").iterdir())) == 2


def test_a_second_pod_failing_at_runtime_rolls_back_the_whole_play(kp: Kubeplay) -> None:
    # One pod at a time, so the first pod is surely up before the second one fails.
    kp.env["KUBEPLAY_PARALLELISM"] = "1"
    path = kp.write(
        "play.yaml",
        sleeper("first") + "---\n" + sleeper("broken", command='["/no/such/binary"]'),
    )
    res = kp("-v", "play", str(path))
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr
    assert "broken" in res.stderr
    assert "container main" in res.stderr
    assert "runc create" in res.stderr  # the step that failed
    assert "/no/such/binary" in res.stderr
    assert "removed" in res.stderr  # says the play's pods were removed
    assert len(kp.ids) >= 3, "the first pod never started: the test proves nothing"
    kp.assert_nothing_runs()
    # A container whose create failed has no process: rollback must not wait for it to exit
    # and then SIGKILL it (it used to wait 10 s for nothing). The first pod's running
    # container may well be killed: rollback stops it with no grace period.
    killed = [line for line in res.stderr.splitlines() if "container_kill" in line]
    assert not [line for line in killed if "default/broken" in line], res.stderr


def _unprivileged_python() -> tuple[list[str], dict[str, str]]:
    """An interpreter user 65534 can run with kubeplay importable (the venv's python may live
    under /root, which nobody cannot enter)."""
    setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(
        [*setpriv, sys.executable, "-c", "import kubeplay.cli.main"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        return [*setpriv, sys.executable], {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = f"/usr/bin/{version}"
    assert os.access(system, os.X_OK), f"no {system} for the unprivileged user"
    path = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])
    return [*setpriv, system], {"PYTHONPATH": path}


def test_play_without_root_says_root_is_needed(kp: Kubeplay) -> None:
    readable = Path(tempfile.mkdtemp(prefix="kpnr"))
    try:
        readable.chmod(0o755)
        manifest = readable / "web.yaml"
        manifest.write_text(sleeper("web"))
        manifest.chmod(0o644)
        argv, extra_env = _unprivileged_python()
        res = subprocess.run(
            [*argv, "-m", "kubeplay", "play", str(manifest)],
            cwd=REPO,
            env={**kp.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        for f in readable.iterdir():
            f.unlink()
        readable.rmdir()
    assert res.returncode != 0, res
    assert "Traceback" not in res.stderr, res.stderr
    assert "root" in res.stderr, res.stderr
    kp.assert_nothing_runs()


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie not reaped yet is gone too


def test_delete_of_a_container_whose_conmon_and_process_are_gone_waits_for_nothing(
    kp: Kubeplay,
) -> None:
    # It ignores SIGTERM and has 60 s of grace: a delete that waited would outlast the timeout.
    path = kp.write(
        "orphan.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: orphan}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 60
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
        """,
    )
    kp.play(path)
    cid = kp.pod("orphan")["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    persist = kp.runroot / "persist" / cid
    conmon = int((persist / "conmon.pid").read_text())
    process = int((persist / "pidfile").read_text())
    os.kill(conmon, 9)
    os.kill(process, 9)
    kp.wait_for("conmon and the process to end", lambda: _gone(conmon) and _gone(process))

    res = kp("-v", "delete", "pod", "orphan", timeout=30)
    assert res.returncode == 0, res
    assert '"container_gone"' in res.stderr, res.stderr
    assert "grace_period" not in res.stderr  # nothing was waited for, nothing SIGKILLed
    assert kp.pod_names() == []


def test_delete_of_a_container_whose_conmon_is_gone_waits_for_its_process(kp: Kubeplay) -> None:
    # No conmon: no exit file will come. The process ends on SIGTERM, and the delete
    # returns once it has, not after the 60 s of grace.
    path = kp.write(
        "half.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: half}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 60
          containers:
          - {{name: main, image: {IMAGE}, command: ["sh", "-c", "{SLEEPER}"]}}
        """,
    )
    kp.play(path)
    cid = kp.pod("half")["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    persist = kp.runroot / "persist" / cid
    conmon = int((persist / "conmon.pid").read_text())
    process = int((persist / "pidfile").read_text())
    os.kill(conmon, 9)
    kp.wait_for("conmon to end", lambda: _gone(conmon))
    assert not _gone(process)

    res = kp("-v", "delete", "pod", "half", timeout=30)
    assert res.returncode == 0, res
    assert "grace_period" not in res.stderr, res.stderr  # ended by SIGTERM, not SIGKILLed
    assert _gone(process)
    assert kp.pod_names() == []


def test_a_pod_whose_down_was_killed_shows_terminating(kp: Kubeplay) -> None:
    """A pod being deleted shows Terminating (its deletionTimestamp kept), not Completed; when
    that `down` is killed, the supervisor finishes the removal."""
    path = kp.write(
        "stuck.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: stuck}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 60
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]
        """,
    )
    kp.play(path)
    cid = kp.pod("stuck")["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    process = int((kp.runroot / "persist" / cid / "pidfile").read_text())
    down = kp.popen("down", str(path))
    try:
        kp.wait_for(
            "the deletion to begin", lambda: "deletionTimestamp" in kp.pod("stuck")["metadata"]
        )
        stamp = kp.pod("stuck")["metadata"]["deletionTimestamp"]
        rows = kp.ok("get", "pods").splitlines()
        assert rows[1].split()[0::2][:2] == ["stuck", "Terminating"], rows
        assert kp.pod("stuck")["metadata"]["deletionTimestamp"] == stamp  # when it began, kept
    finally:
        down.kill()  # SIGKILL while it waits out the grace period
        down.communicate()
    os.kill(process, 9)  # the container ends (137) with nobody removing the pod
    kp.ok("get", "pods")  # a read starts the supervisor if none runs: it finishes the down
    kp.wait_for("the supervisor to finish the removal", lambda: not kp.pod_names(), timeout=30)


def _epoch(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def test_a_container_whose_conmon_died_is_restarted_with_its_real_end_time(kp: Kubeplay) -> None:
    path = kp.write(
        "ticker.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: ticker}}
        spec:
          restartPolicy: Always
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "while :; do echo tick; sleep 1; done"]
        """,
    )
    kp.play(path)
    kp.wait_for("three ticks", lambda: kp.ok("logs", "ticker").count("tick") >= 3)
    status = kp.pod("ticker")["status"]["containerStatuses"][0]
    cid = status["containerID"].split("://")[1]
    persist = kp.runroot / "persist" / cid
    victims = [int((persist / name).read_text()) for name in ("conmon.pid", "pidfile")]
    for pid in victims:
        os.kill(pid, 9)
    kp.wait_for("conmon and the process to end", lambda: all(_gone(p) for p in victims))

    def restarted() -> dict[str, Any] | None:
        st: dict[str, Any] = kp.pod("ticker")["status"]["containerStatuses"][0]
        return st if st["restartCount"] == 1 and "running" in st["state"] else None

    st = kp.wait_for("the supervisor to restart it", restarted, timeout=40)
    last = st["lastState"]["terminated"]
    assert last["containerID"] == status["containerID"]
    # It ended after its ticks, not when it started: the restart age counts from there.
    assert _epoch(last["finishedAt"]) - _epoch(last["startedAt"]) >= 2, last


def test_a_restart_the_runtime_cannot_start_is_a_start_error_in_crash_loop(kp: Kubeplay) -> None:
    """The container's program removes itself and fails (it lives in an emptyDir an init
    container filled): its restart cannot start (no such executable) and ends as
    containerd ends it, exit code 128, reason StartError, counted as a restart; restartPolicy
    OnFailure starts it again with back-off (CrashLoopBackOff), the failure as lastState."""
    kp.env["KUBEPLAY_BACKOFF_BASE"] = "0.5"
    path = kp.write(
        "once.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: once
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 1
          volumes:
          - name: work
            emptyDir: {{}}
          initContainers:
          - name: setup
            image: {IMAGE}
            command:
            - sh
            - -c
            - printf '#!/bin/sh\\nrm /work/run\\nexit 1\\n' > /work/run && chmod +x /work/run
            volumeMounts:
            - name: work
              mountPath: /work
          containers:
          - name: main
            image: {IMAGE}
            command: ["/work/run"]
            volumeMounts:
            - name: work
              mountPath: /work
        """,
    )
    kp.play(path)

    def start_error() -> dict[str, Any] | None:
        # Waiting again after a failed start (between the attempt and the supervisor's next
        # sync the state reads terminated, and while the next instance is made, the restart
        # being made: those moments pass, as a kubelet's status between its syncs)
        (ctr,) = kp.pod("once")["status"]["containerStatuses"]
        last = ctr["lastState"].get("terminated") or {}
        waiting = (ctr["state"].get("waiting") or {}).get("reason")
        if last.get("reason") == "StartError" and ctr["restartCount"] >= 2:
            return ctr if waiting in ("RunContainerError", "CrashLoopBackOff") else None
        return None

    ctr = kp.wait_for("a restart that failed to start, waiting again", start_error, timeout=60)
    last = ctr["lastState"]["terminated"]
    assert last["exitCode"] == 128 and '"/work/run"' in last["message"]
    assert last["startedAt"] == "1970-01-01T00:00:00Z"
    assert kp.pod("once")["status"]["phase"] == "Running"  # OnFailure: still restarting
    events = kp.ok("get", "events", "--field-selector", "involvedObject.name=once")
    assert "BackOff" in events and '"/work/run"' in events
    kp.ok("delete", "pod", "once")
