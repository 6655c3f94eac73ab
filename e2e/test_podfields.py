"""Pod fields: terminationMessagePath/Policy, activeDeadlineSeconds, hostname, subdomain,
setHostnameAsFQDN (and its 64-character limit), hostPID, hostIPC, tty, checked from inside the
container (the host's processes, IPC objects and /dev/shm seen there) or from its status."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

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
    """The supervisor counts activeDeadlineSeconds from startTime, then marks the pod Failed
    (DeadlineExceeded) and stops its containers, as the kubelet's activeDeadlineHandler."""
    path = kp.write(
        "deadline.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: deadline}}
        spec:
          activeDeadlineSeconds: 4
          terminationGracePeriodSeconds: 5
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    kp.play(path)
    deadline = time.monotonic() + 60
    while (pod := kp.pod("deadline"))["status"]["phase"] != "Failed":
        assert time.monotonic() < deadline, pod["status"]
        time.sleep(0.5)
    assert pod["status"]["reason"] == "DeadlineExceeded"
    state = pod["status"]["containerStatuses"][0]["state"]
    assert "terminated" in state
    started = datetime.fromisoformat(pod["status"]["startTime"])
    finished = datetime.fromisoformat(state["terminated"]["finishedAt"])
    assert (finished - started).total_seconds() >= 3  # not before the deadline (1 s rounding)
    assert kp.ok("get", "pods").splitlines()[1].split()[2] == "DeadlineExceeded"
    assert "DeadlineExceeded" in kp.ok("get", "events")


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


def test_subdomain_gives_hostname_f_and_fqdn_hostname_file(kp: Kubeplay) -> None:
    path = kp.write(
        "sub.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: sub}}
        spec:
          hostname: box
          subdomain: group
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: asfqdn}}
        spec:
          subdomain: group
          setHostnameAsFQDN: true
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    kp.play(path)
    fqdn = "box.group.default.svc.cluster.local"
    assert kp.exec("sub", "hostname") == "box\n"
    assert kp.exec("sub", "hostname", "-f") == f"{fqdn}\n"
    assert kp.exec("sub", "cat", "/etc/hostname") == "box\n"
    fqdn = "asfqdn.group.default.svc.cluster.local"
    assert kp.exec("asfqdn", "hostname") == f"{fqdn}\n"
    assert kp.exec("asfqdn", "cat", "/etc/hostname") == f"{fqdn}\n"


def test_fqdn_longer_than_64_characters_is_refused_and_nothing_is_created(kp: Kubeplay) -> None:
    hostname = "h" * 40
    path = kp.write(
        "long.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: long}}
        spec:
          hostname: {hostname}
          subdomain: group
          setHostnameAsFQDN: true
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    res = kp("play", str(path))
    fqdn = f"{hostname}.group.default.svc.cluster.local"
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr
    assert (
        f"long.yaml:7: document 1 (Pod long): spec.setHostnameAsFQDN: failed to construct FQDN "
        f"from pod hostname and cluster domain, FQDN {fqdn} is too long (64 characters is the "
        f"max, {len(fqdn)} characters requested)"
    ) in res.stderr, res.stderr
    assert kp.pod_names("-A") == []


def test_host_pid_sees_the_hosts_processes(kp: Kubeplay) -> None:
    marker = f"kp-hostpid-{secrets.token_hex(4)}"
    host_proc = subprocess.Popen(["sh", "-c", f"sleep 300; : {marker}"])
    try:
        path = kp.write(
            "hostpid.yaml",
            f"""
            apiVersion: v1
            kind: Pod
            metadata: {{name: hostpid}}
            spec:
              hostPID: true
              containers:
              - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {{name: ownpid}}
            spec:
              containers:
              - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
            """,
        )
        kp.play(path)
        inside = kp.exec("hostpid", "cat", f"/proc/{host_proc.pid}/cmdline")
        assert marker in inside
        assert kp.exec("hostpid", "readlink", "/proc/self/ns/pid").strip() == os.readlink(
            "/proc/self/ns/pid"
        )
        assert kp.exec("hostpid", "cat", "/proc/1/cmdline") == Path("/proc/1/cmdline").read_text()
        assert marker in kp.exec("hostpid", "ps", "-o", "pid,args")
        # Without hostPID the container has its own namespace: the host process is not there.
        assert marker not in kp.exec("ownpid", "ps", "-o", "pid,args")
        assert kp.exec("ownpid", "readlink", "/proc/self/ns/pid").strip() != os.readlink(
            "/proc/self/ns/pid"
        )
    finally:
        host_proc.kill()
        host_proc.wait()


def test_containers_of_a_pod_share_its_ipc_namespace_and_dev_shm(kp: Kubeplay) -> None:
    token = secrets.token_hex(4)
    path = kp.write(
        "shm.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: shm}}
        spec:
          containers:
          - {{name: writer, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
          - {{name: reader, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: other}}
        spec:
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
        """,
    )
    kp.play(path)
    kp.exec("shm", "sh", "-c", f"echo {token} > /dev/shm/kp-{token}", container="writer")
    assert kp.exec("shm", "cat", f"/dev/shm/kp-{token}", container="reader") == f"{token}\n"
    ns = {
        c: kp.exec("shm", "readlink", "/proc/self/ns/ipc", container=c)
        for c in ("writer", "reader")
    }
    assert ns["writer"] == ns["reader"]
    # Another pod, and the host, have their own.
    assert kp("exec", "other", "--", "cat", f"/dev/shm/kp-{token}").returncode != 0
    assert not (Path("/dev/shm") / f"kp-{token}").exists()
    assert kp.exec("other", "readlink", "/proc/self/ns/ipc") != ns["writer"]
    mount = kp.exec("shm", "grep", " /dev/shm ", "/proc/mounts", container="reader")
    assert mount.split()[2] == "tmpfs" and "size=65536k" in mount, mount
    # Restarted, a container finds what is there (the pod's shm outlives its containers).
    kp("exec", "shm", "-c", "reader", "--", "kill", "1")  # the exec dies with it: 137
    kp.wait_for(
        "the reader to restart",
        lambda: (
            kp.pod("shm")["status"]["containerStatuses"][1]["restartCount"] >= 1
            and kp("exec", "shm", "-c", "reader", "--", "cat", f"/dev/shm/kp-{token}").stdout
            == f"{token}\n"
        ),
        timeout=40,
    )


def test_host_ipc_shares_sysv_ipc_and_dev_shm_with_the_host(kp: Kubeplay) -> None:
    token = secrets.token_hex(4)
    shm_file = Path("/dev/shm") / f"kp-hostipc-{token}"
    made = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True, check=True)
    shm_id = made.stdout.split()[-1]
    try:
        shm_file.write_text(token)
        path = kp.write(
            "hostipc.yaml",
            f"""
            apiVersion: v1
            kind: Pod
            metadata: {{name: hostipc}}
            spec:
              hostIPC: true
              containers:
              - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {{name: ownipc}}
            spec:
              containers:
              - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
            """,
        )
        kp.play(path)
        ids = [
            line.split()[1]
            for line in kp.exec("hostipc", "cat", "/proc/sysvipc/shm").splitlines()[1:]
        ]
        assert shm_id in ids
        assert kp.exec("hostipc", "cat", str(shm_file)) == token
        assert kp.exec("hostipc", "readlink", "/proc/self/ns/ipc").strip() == os.readlink(
            "/proc/self/ns/ipc"
        )
        # A segment the container makes is the host's too.
        kp.exec("hostipc", "sh", "-c", f"echo from-pod > /dev/shm/kp-pod-{token}")
        assert (Path("/dev/shm") / f"kp-pod-{token}").read_text() == "from-pod\n"
        # Without hostIPC: the pod's own IPC namespace and /dev/shm.
        own = kp.exec("ownipc", "cat", "/proc/sysvipc/shm").splitlines()[1:]
        assert shm_id not in [line.split()[1] for line in own]
        assert kp("exec", "ownipc", "--", "test", "-e", str(shm_file)).returncode == 1
    finally:
        subprocess.run(["ipcrm", "-m", shm_id], check=False)
        shm_file.unlink(missing_ok=True)
        (Path("/dev/shm") / f"kp-pod-{token}").unlink(missing_ok=True)


def test_stdin_keeps_the_process_stdin_open(kp: Kubeplay) -> None:
    path = kp.write(
        "stdin.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: stdin}}
        spec:
          containers:
          - name: open
            image: {IMAGE}
            command: [sh, -c, "cat > /dev/null; echo eof > /tmp/eof; {SLEEPER}"]
            stdin: true
            stdinOnce: true
          - name: closed
            image: {IMAGE}
            command: [sh, -c, "cat > /dev/null; echo eof > /tmp/eof; {SLEEPER}"]
        """,
    )
    kp.play(path)
    # Without stdin the process reads /dev/null and gets EOF at once.
    assert kp.exec("stdin", "readlink", "/proc/1/fd/0", container="closed") == "/dev/null\n"
    kp.wait_for("EOF", lambda: kp("exec", "stdin", "-c", "closed", "--", "cat", "/tmp/eof").stdout)
    # With stdin it is a pipe conmon holds open: cat is still reading.
    assert kp.exec("stdin", "readlink", "/proc/1/fd/0", container="open").startswith("pipe:")
    assert "cat" in kp.exec("stdin", "ps", "-o", "comm", container="open").split()
    assert kp("exec", "stdin", "-c", "open", "--", "test", "-e", "/tmp/eof").returncode == 1
