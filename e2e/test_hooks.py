"""Lifecycle hooks through the CLI: preStop before the stop signal, postStart after start,
a failing postStart stops the container, lifecycle.stopSignal; the httpd test image.
https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/
"""

from __future__ import annotations

import tarfile

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay
from e2e.images import HTTPD_IMAGE, build_httpd_rootfs, import_httpd_image
from kubeplay.state.store import SqliteStore

pytestmark = pytest.mark.root


def _pod(name: str, command: str, lifecycle: str, *, extra_spec: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{extra_spec}  containers:
  - name: main
    image: {IMAGE}
    command: ["sh", "-c", "{command}"]
    lifecycle:
{lifecycle}
"""


def _exec_hook(hook: str, script: str) -> str:
    return f"      {hook}:\n        exec:\n          command: [sh, -c, '{script}']\n"


LOOP = "echo started; while :; do sleep 1 & wait $!; done"


def _events(kp: Kubeplay) -> list[tuple[str, str, str]]:
    """The hooks' events (the pod's others, Scheduled, Pulled, Started..., aside)."""
    store = SqliteStore(kp.root / "state.db")
    try:
        return [
            (e.reason, e.field_path, e.message) for e in store.list_events() if "Hook" in e.reason
        ]
    finally:
        store.close()


def _running(kp: Kubeplay, name: str) -> bool:
    (cs,) = kp.pod(name)["status"]["containerStatuses"]
    return "running" in cs["state"]


def test_pre_stop_hook_runs_before_the_stop_signal(kp: Kubeplay) -> None:
    # The TERM trap lingers so that `logs -f` (polling) reads the last lines before down
    # removes the pod and its logs.
    command = f"trap 'echo term; sleep 2; exit 0' TERM; {LOOP}"
    hook = _exec_hook("preStop", "echo prestop > /proc/1/fd/1; sleep 1")
    path = kp.write("web.yaml", _pod("web", command, hook))
    kp.play(path)
    kp.wait_for("started", lambda: kp.ok("logs", "web") == "started\n")
    follower = kp.popen("logs", "-f", "web")
    try:
        kp.ok("down", str(path), timeout=60)
    finally:
        follower.kill()
        out, _ = follower.communicate(timeout=10)
    assert out.split() == ["started", "prestop", "term"]


def test_post_start_hook_effect_is_visible(kp: Kubeplay) -> None:
    hook = _exec_hook("postStart", "echo hooked > /tmp/poststart")
    path = kp.write("web.yaml", _pod("web", SLEEPER, hook))
    kp.play(path)
    assert kp.exec("web", "cat", "/tmp/poststart") == "hooked\n"
    assert _events(kp) == []


def test_failed_post_start_hook_stops_the_container_with_an_event(kp: Kubeplay) -> None:
    hook = _exec_hook("postStart", "echo nope; exit 3")
    # Never: with Always the supervisor restarts the container, as the kubelet does
    path = kp.write("web.yaml", _pod("web", SLEEPER, hook, extra_spec="  restartPolicy: Never\n"))
    kp.play(path)
    assert not _running(kp, "web")
    (cs,) = kp.pod("web")["status"]["containerStatuses"]
    assert "terminated" in cs["state"]
    ((reason, field_path, message),) = _events(kp)
    assert (reason, field_path) == ("FailedPostStartHook", "spec.containers{main}")
    assert message.startswith(
        'Exec lifecycle hook ([sh -c echo nope; exit 3]) for Container "main"'
    )
    assert "exited with 3" in message


def test_lifecycle_stop_signal_is_sent_on_down(kp: Kubeplay) -> None:
    command = f"trap 'echo usr1; sleep 2; exit 0' USR1; trap 'echo term; exit 0' TERM; {LOOP}"
    lifecycle = "      stopSignal: SIGUSR1\n"
    path = kp.write("web.yaml", _pod("web", command, lifecycle, extra_spec="  os: {name: linux}\n"))
    kp.play(path)
    kp.wait_for("started", lambda: kp.ok("logs", "web") == "started\n")
    follower = kp.popen("logs", "-f", "web")
    try:
        kp.ok("down", str(path), timeout=60)
    finally:
        follower.kill()
        out, _ = follower.communicate(timeout=10)
    assert out.split() == ["started", "usr1"]


def test_httpd_image_has_no_http_clients_and_serves(kp: Kubeplay) -> None:
    tar = build_httpd_rootfs(kp.rootfs, kp.tmp / "check.tar")
    with tarfile.open(tar) as t:
        names = set(t.getnames())
    assert {"./bin/httpd", "./bin/sh", "./var/www/healthz"} <= names
    assert not {"./bin/wget", "./bin/nc", "./bin/curl"} & names
    import_httpd_image(kp)
    path = kp.write(
        "httpd.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: httpd}}
        spec:
          containers: [{{name: web, image: {HTTPD_IMAGE}}}]
        """,
    )
    kp.play(path)
    ip = kp.pod("httpd")["status"]["podIP"]
    for tool in ("wget", "nc", "curl"):
        res = kp("exec", "httpd", "--", tool, "--help")
        assert res.returncode != 0, f"{tool} is in the image"
    import urllib.request

    def fetch() -> str:
        try:
            with urllib.request.urlopen(f"http://{ip}/healthz", timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            return ""

    assert kp.wait_for("httpd answers", fetch) == "ok\n"
