"""What `kubeplay get pods` imports (issue 11: `get pods` at most podman's `pod ps` time).

Start-up is most of a listing's CPU, so the command must import what listing pods needs and
nothing of the other commands, the runtime, the network or the supervisor. Each case runs the
real CLI in a subprocess with its own roots and reads Python's own import log
(`-X importtime`), which names every module the process loaded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import host as host_mod
from kubeplay.engine import locks, nudges
from kubeplay.plan import pods as pods_mod
from kubeplay.runtime import procs
from kubeplay.settings import Settings
from kubeplay.state.store import ContainerRecord, PodRecord

# What listing pods never needs: each is a command, an adapter or a library of another path.
NOT_IMPORTED = {
    "asyncio",  # the supervisor's loop (engine.reconcile imports it)
    "subprocess",
    "socket",  # the host's IP is read through _socket
    "hashlib",  # OpenSSL's start-up: only writes hash
    "yaml",  # manifests are parsed by play and apply
    "jsonschema",
    "pyroute2",
    "structlog",  # logging is configured, not used, when nothing is logged
    "kubeplay.kube.loader",
    "kubeplay.engine.pods",  # sync and teardown; `get` observes through engine.observe
    "kubeplay.engine.reconcile",
    "kubeplay.engine.supervisor",
    "kubeplay.services.play",
    "kubeplay.cli.apply",  # other commands' modules (cli.main registers them by name)
    "kubeplay.cli.describe",
    "kubeplay.cli.lifecycle",
    "kubeplay.cli.rollout",
    "kubeplay.cli.containers",
}


def _settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path / "root", runroot=tmp_path / "run")


def _get_pods(settings: Settings) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBEPLAY_", "PYTHON"))}
    env |= {
        "KUBEPLAY_ROOT": str(settings.root),
        "KUBEPLAY_RUNROOT": str(settings.runroot),
        "KUBEPLAY_CONFIG": str(settings.root.parent / "absent.toml"),
    }
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kubeplay", "get", "pods"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", res.stderr, re.M))
    return res, imported


def _add_running_pods(settings: Settings, count: int) -> None:
    """`count` active pods whose containers' process is this test's (so they are Running)."""
    me = procs.identify(os.getpid())
    host = host_mod.open_host(settings)
    try:
        for i in range(count):
            uid = f"00000000-0000-4000-8000-{i:012d}"
            manifest: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"web{i:02d}"},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            }
            plan = pods_mod.compile_pod(manifest, uid=uid)
            host.store.add_pods(
                [
                    PodRecord(
                        uid=uid,
                        namespace="default",
                        name=f"web{i:02d}",
                        source="pods.yaml",
                        manifest=manifest,
                        plan_json=pods_mod.to_json(plan),
                        created_at=1.0,
                    )
                ]
            )
            host.store.update_pod(uid, lifecycle="active", started_at=1.0)
            for kind, name in (("infra", "_infra"), ("app", "main")):
                host.store.put_container(
                    ContainerRecord(
                        pod_uid=uid,
                        name=name,
                        kind=kind,
                        container_id=f"{kind}{i:02d}",
                        pid=me.pid,
                        pid_start=me.start,
                        started_at=1.0,
                    )
                )
    finally:
        host.close()


@pytest.fixture
def running_supervisor(tmp_path: Path) -> Iterator[None]:
    """A supervisor as the CLI sees one (its lock held, its pid written), as after `play`:
    `get` then only reads, and starts none."""
    settings = _settings(tmp_path)
    host_mod.open_host(settings).close()
    fd = locks.try_lock(nudges.lock_path(settings))
    assert fd is not None
    nudges.write_pid(settings, os.getpid())
    try:
        yield
    finally:
        os.close(fd)


def test_get_pods_of_an_empty_store_imports_nothing_of_other_paths(tmp_path: Path) -> None:
    res, imported = _get_pods(_settings(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "No resources found in default namespace." in res.stderr
    assert {"kubeplay.cli.show", "kubeplay.state.store"} <= imported, sorted(imported)
    assert not NOT_IMPORTED & imported, sorted(NOT_IMPORTED & imported)


def test_get_pods_of_running_pods_imports_only_what_listing_needs(
    tmp_path: Path, running_supervisor: None
) -> None:
    settings = _settings(tmp_path)
    _add_running_pods(settings, 3)
    res, imported = _get_pods(settings)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [line.split() for line in res.stdout.splitlines()[1:]]
    assert [r[:3] for r in rows] == [[f"web{i:02d}", "1/1", "Running"] for i in range(3)]
    assert {"kubeplay.engine.observe", "kubeplay.plan.status"} <= imported, sorted(imported)
    assert not NOT_IMPORTED & imported, sorted(NOT_IMPORTED & imported)
