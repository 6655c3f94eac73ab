"""Prober against a real pod (root only): busybox httpd without wget/nc/curl, played by the
services, probed from the host by the real handlers.

A startup exec probe (through runc) holds the others; readiness httpGet on a named port makes
the pod Ready, and NotReady with an Unhealthy event once the page is gone; a liveness exec
probe on a file the postStart hook made hands a kill to on_restart once the file is removed.
The pod, its network and the node network are removed afterwards (down, system reset).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.images import HTTPD_CMD, HTTPD_IMAGE, build_httpd_rootfs
from kubeplay.engine import host as host_mod
from kubeplay.engine.prober import Prober
from kubeplay.plan.probes import ProbeKill
from kubeplay.services import images, play, pods, system
from kubeplay.settings import Settings
from tests.integration.net.conftest import free_subnet

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parents[3]

MANIFEST = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: {HTTPD_IMAGE}
    ports: [{{name: http, containerPort: 80}}]
    lifecycle:
      postStart: {{exec: {{command: [touch, /tmp/alive]}}}}
    startupProbe:
      exec: {{command: [test, -f, /var/www/index.html]}}
      periodSeconds: 1
    readinessProbe:
      httpGet: {{path: /healthz, port: http}}
      periodSeconds: 1
    livenessProbe:
      exec: {{command: [test, -f, /tmp/alive]}}
      periodSeconds: 1
      failureThreshold: 2
"""


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    runroot = Path(tempfile.mkdtemp(prefix="kp"))  # short: conmon socket paths are limited
    claims: list[int] = []
    s = Settings(
        root=tmp_path / "root",
        runroot=runroot,
        bridge="kpp" + secrets.token_hex(3),
        subnet=free_subnet(claims),
        dns_upstream="none",
    )
    rootfs = os.environ.get("KUBEPLAY_TEST_ROOTFS")
    if rootfs:
        src = Path(rootfs)
    else:
        src = tmp_path / "busybox-rootfs.tar"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs.sh"), str(src)], check=True)
    tar = build_httpd_rootfs(src, tmp_path / "httpd.tar")
    images.import_rootfs(s, tar, HTTPD_IMAGE, changes=[f"CMD {json.dumps(HTTPD_CMD)}"])
    try:
        yield s
    finally:
        system.reset(s)
        shutil.rmtree(runroot, ignore_errors=True)
        for fd in claims:
            os.close(fd)


async def until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_prober_on_a_real_pod(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST)
    play.play(settings, [str(path)])
    host = host_mod.open_host(settings)
    restarts: list[tuple[str, str, str]] = []

    async def on_restart(kill: ProbeKill) -> None:
        restarts.append((kill.pod_uid, kill.container, kill.message))

    def status() -> tuple[bool, bool, str]:
        view = pods.get_pod(settings, "default", "web")
        (cs,) = view.status["containerStatuses"]
        ready = next(c["status"] for c in view.status["conditions"] if c["type"] == "Ready")
        return cs["started"], cs["ready"], ready

    def events() -> list[str]:
        return [f"{e.reason}: {e.message}" for e in host.store.list_events()]

    async def scenario() -> None:
        rec = host.store.get_pod("default", "web")
        assert rec is not None
        assert status() == (False, False, "False")  # nothing probed yet
        prober = Prober(host, on_restart=on_restart)
        try:
            prober.update([rec])
            await until("ready", lambda: status() == (True, True, "True"))
            cid = next(c.container_id for c in rec.containers if c.name == "web")
            code, _, _ = host.runtime.exec_capture(cid, ["rm", "/var/www/healthz"], timeout=10)
            assert code == 0
            await until("not ready", lambda: status() == (True, False, "False"))
            assert (
                "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 404"
                in events()
            )
            assert restarts == []
            code, _, _ = host.runtime.exec_capture(cid, ["rm", "/tmp/alive"], timeout=10)
            assert code == 0
            await until("liveness kill", lambda: bool(restarts))
            assert restarts == [
                (rec.uid, "web", "Container web failed liveness probe, will be restarted")
            ]
            assert any(e.startswith("Unhealthy: Liveness probe failed") for e in events())
        finally:
            await prober.close()

    try:
        asyncio.run(scenario())
    finally:
        host.close()
        play.down(settings, [str(path)])
