"""Containers of a pod: shared and separate namespaces, command/args/env as Kubernetes
combines them with the image's config, exec and logs."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root

ECHO_IMAGE = "localhost/kubeplay/echo:latest"
# busybox httpd as the container's PID 1 ignores SIGTERM: run it under a trapping shell.
HTTPD = "trap 'kill $!; exit 0' TERM; httpd -f -p 127.0.0.1:8080 -h /var/www & wait $!"


def _ns_links(kp: Kubeplay, pod: str, container: str) -> dict[str, str]:
    out = kp.exec(
        pod,
        "sh",
        "-c",
        "for n in net uts ipc mnt pid; do echo $n $(readlink /proc/self/ns/$n); done",
        container=container,
    )
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_containers_of_a_pod_share_net_uts_ipc_but_not_mounts(kp: Kubeplay) -> None:
    path = kp.write(
        "shared.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: shared
        spec:
          containers:
          - name: server
            image: {IMAGE}
            command: ["sh", "-c", "{HTTPD}"]
          - name: client
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: named
        spec:
          hostname: custom-host
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        """,
    )
    kp.play(path)

    def fetch() -> str:
        res = kp(
            "exec", "shared", "-c", "client", "--",
            "timeout", "5", "wget", "-qO-", "http://127.0.0.1:8080/",
        )  # fmt: skip
        return res.stdout if res.returncode == 0 else ""

    assert kp.wait_for("httpd on the pod's loopback", fetch) == "hello from kubeplay\n"

    assert kp.exec("shared", "hostname", container="server") == "shared\n"
    assert kp.exec("shared", "hostname", container="client") == "shared\n"
    assert kp.exec("named", "hostname") == "custom-host\n"

    server = _ns_links(kp, "shared", "server")
    client = _ns_links(kp, "shared", "client")
    for ns in ("net", "uts", "ipc"):
        assert server[ns] == client[ns], (ns, server, client)
    assert server["mnt"] != client["mnt"]
    assert server["pid"] != client["pid"]  # shareProcessNamespace is false
    assert _ns_links(kp, "named", "main")["net"] != server["net"]

    kp.exec("shared", "sh", "-c", "echo mine > /tmp/only-here", container="server")
    assert kp.exec("shared", "cat", "/tmp/only-here", container="server") == "mine\n"
    absent = kp("exec", "shared", "-c", "client", "--", "test", "-e", "/tmp/only-here")
    assert absent.returncode == 1, absent

    # Without a shared pid namespace each container is its own PID 1 and sees only itself.
    ps = kp.exec("shared", "ps", "-o", "pid,args", container="client")
    assert "httpd" not in ps
    assert re.search(r"^\s*1\s+sh -c trap", ps, re.M), ps


def test_share_process_namespace_shows_other_containers_and_catatonit_as_pid_1(
    kp: Kubeplay,
) -> None:
    path = kp.write(
        "pids.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: pids
        spec:
          shareProcessNamespace: true
          containers:
          - name: a
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
          - name: b
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER} # marker-b"]
        """,
    )
    kp.play(path)
    ps = kp.exec("pids", "ps", "-o", "pid,args", container="a")
    assert "marker-b" in ps, ps
    assert re.search(r"^\s*1\s+\S*catatonit", ps, re.M), ps
    a, b = _ns_links(kp, "pids", "a"), _ns_links(kp, "pids", "b")
    assert a["pid"] == b["pid"]
    assert a["mnt"] != b["mnt"]


def test_command_args_env_and_working_dir_combine_with_the_image_config(kp: Kubeplay) -> None:
    kp.ok(
        "image", "import", str(kp.rootfs), ECHO_IMAGE,
        "--change", "ENV FOO=image",
        "--change", "WORKDIR /tmp",
        "--change", 'ENTRYPOINT ["/bin/echo"]',
        "--change", 'CMD ["from-image"]',
    )  # fmt: skip

    def pod(name: str, container: str) -> str:
        return (
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  restartPolicy: Never\n  containers:\n  - name: main\n"
            f"    image: {ECHO_IMAGE}\n" + container
        )

    cases = {
        # Neither command nor args: the image's Entrypoint and Cmd.
        "image-defaults": ("", "from-image"),
        # args only: the image's Entrypoint with the pod's args (Cmd ignored).
        "args-only": ('    args: ["from-args"]\n', "from-args"),
        # command only: the image's Entrypoint and Cmd are both ignored.
        "command-only": ('    command: ["/bin/echo", "cmd-only"]\n', "cmd-only"),
        # both: command with args.
        "both": (
            '    command: ["/bin/echo", "cmd"]\n    args: ["arg1", "arg2"]\n',
            "cmd arg1 arg2",
        ),
        # The image's ENV and WORKDIR apply when the pod says nothing.
        "image-env": ('    command: ["/bin/sh", "-c", \'echo $FOO $PWD\']\n', "image /tmp"),
        # env and workingDir of the pod win over the image's.
        "pod-env": (
            '    command: ["/bin/sh", "-c", \'echo $FOO $BAR $PWD\']\n'
            "    workingDir: /var\n"
            "    env:\n    - {name: FOO, value: pod}\n    - {name: BAR, value: bar}\n",
            "pod bar /var",
        ),
        # $(VAR) expands from the container's env (earlier entries, command and args);
        # $$ escapes; an undefined reference and the image's ENV stay as written.
        "expansion": (
            '    command: ["/bin/echo", "$(MSG)", "$$(MSG)", "$(UNDEFINED)"]\n'
            '    args: ["$(GREETING)", "$(FOO)"]\n'
            "    env:\n"
            "    - {name: GREETING, value: hello}\n"
            '    - {name: MSG, value: "$(GREETING) world"}\n',
            "hello world $(MSG) $(UNDEFINED) hello $(FOO)",
        ),
    }
    path = kp.write("cmds.yaml", "---\n".join(pod(n, c) for n, (c, _) in cases.items()))
    kp.play(path)

    def finished() -> dict[str, str] | None:
        items = json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
        got = {p["metadata"]["name"]: p["status"]["phase"] for p in items}
        return got if set(got.values()) <= {"Succeeded", "Failed"} else None

    phases = kp.wait_for("the pods to finish", finished)
    logs = {name: kp.ok("logs", name) for name in cases}
    assert logs == {name: want + "\n" for name, (_, want) in cases.items()}
    assert set(phases.values()) == {"Succeeded"}


def test_exec_runs_with_the_container_env_and_working_dir(kp: Kubeplay) -> None:
    path = kp.write(
        "env.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: env
        spec:
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            workingDir: /var/www
            env:
            - name: FOO
              value: from-pod
        """,
    )
    kp.play(path)
    assert kp.exec("env", "sh", "-c", "echo $FOO $PWD") == "from-pod /var/www\n"
    assert kp.exec("env", "cat", "index.html") == "hello from kubeplay\n"


def test_exec_and_logs(kp: Kubeplay) -> None:
    path = kp.write(
        "logger.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: logger
        spec:
          containers:
          - name: first
            image: {IMAGE}
            command: ["sh", "-c", "echo one; echo two; echo three; {SLEEPER}"]
          - name: second
            image: {IMAGE}
            command: ["sh", "-c", "echo from-second; {SLEEPER}"]
        """,
    )
    kp.play(path)

    code = kp("exec", "logger", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert code.returncode == 7
    assert code.stdout == "out\n"
    assert "err" in code.stderr
    assert kp("exec", "logger", "-c", "second", "--", "true").returncode == 0

    wrong = kp("exec", "logger", "-c", "nope", "--", "true")
    assert wrong.returncode == 1
    assert "nope" in wrong.stderr
    assert "first" in wrong.stderr
    assert "second" in wrong.stderr
    assert "Traceback" not in wrong.stderr

    kp.wait_for("three lines of logs", lambda: kp.ok("logs", "logger").count("\n") == 3)
    assert kp.ok("logs", "logger") == "one\ntwo\nthree\n"
    assert kp.ok("logs", "logger", "-c", "first") == "one\ntwo\nthree\n"
    assert kp.ok("logs", "logger", "-c", "second") == "from-second\n"
    assert kp.ok("logs", "pod/logger", "--tail", "1") == "three\n"
    assert kp.ok("logs", "logger", "--tail", "2") == "two\nthree\n"
    stamped = kp.ok("logs", "logger", "--timestamps").splitlines()
    assert len(stamped) == 3
    for line, text in zip(stamped, ["one", "two", "three"], strict=True):
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) " + text, line
        ), line

    previous = kp("logs", "logger", "--previous")
    assert previous.returncode == 1
    assert "previous terminated container" in previous.stderr
    assert "Traceback" not in previous.stderr
    assert previous.stdout == ""


def test_logs_follow_ends_when_the_container_exits(kp: Kubeplay) -> None:
    path = kp.write(
        "short.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: short
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "echo start; sleep 2; echo end"]
        """,
    )
    kp.play(path)
    started = time.monotonic()
    follower = kp.popen("logs", "-f", "short")
    try:
        out, err = follower.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        follower.kill()
        follower.communicate()
        pytest.fail("logs -f did not end after the container exited")
    assert follower.returncode == 0, err
    assert out == "start\nend\n"
    assert time.monotonic() - started < 15
    assert kp.pod("short")["status"]["phase"] == "Succeeded"
