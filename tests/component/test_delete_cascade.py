"""`delete` of an owner through the services, over the fake runtime, images and network (no
root): with kubectl's default background cascade the Deployment and its ReplicaSet are gone
when the command returns and its pods are only marked terminating, in the same transaction;
the supervisor's pod controller stops and removes them afterwards. foreground stops the pods
first, in the command."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplay.engine import host as host_mod
from kubeplay.engine import network
from kubeplay.engine.controllers.pods import PodController, pod_key
from kubeplay.engine.loop import Loop
from kubeplay.kube import kinds
from kubeplay.kube.objects import KubeObject
from kubeplay.plan.apply import ApplyMode
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.images import ImageConfig
from kubeplay.services import apply as apply_svc
from kubeplay.services import resources
from kubeplay.settings import Settings
from kubeplay.state.store import SqliteStore
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host, use_fakes

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "app", "image": "busybox", "command": ["sh"]}],
            },
        },
    },
}


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHost]:
    images = FakeImageStore({"busybox": ImageConfig(cmd=("sh",))})
    made = fake_host(tmp_path, clock=FakeClock(time.time()), images=images)
    real_open = host_mod.open_host

    def open_host(settings: Settings) -> host_mod.Host:
        """Each command's own Host (it closes it), over the same fakes."""
        host = real_open(settings)
        use_fakes(host, made)
        return host

    monkeypatch.setattr(host_mod, "open_host", open_host)
    monkeypatch.setattr(host_mod, "require_runtime", lambda _host: None)
    monkeypatch.setattr(network, "refresh", lambda _host, **_: None)  # the node's nft table
    apply_svc.run(
        made.host.settings,
        [KubeObject(body=DEPLOYMENT, source="web.yaml")],
        source="apply:web.yaml",
        mode=ApplyMode.APPLY,
    )
    yield made
    made.host.close()


def _state(fakes: FakeHost) -> tuple[list[str], list[str]]:
    """(stored kinds, lifecycles of the pods), read from a store of its own."""
    store = SqliteStore(fakes.host.settings.state_db)
    try:
        stored = sorted(r.kind for r in store.list_records() if r.kind != "Pod")
        return stored, sorted(p.lifecycle for p in store.list_pods())
    finally:
        store.close()


def _kills(fakes: FakeHost) -> list[tuple[str, str]]:
    return [c for c in fakes.runtime.calls if c[0].startswith("kill") and c[1] == "app"]


def _delete(fakes: FakeHost, cascade: str) -> tuple[str, ...]:
    info = kinds.resolve("deployment").info
    report = resources.delete(fakes.host.settings, info, "default", ["web"], cascade=cascade)
    assert report.pods_changed  # the command then starts or nudges the supervisor
    return report.lines


def test_background_returns_with_the_owner_gone_and_its_pods_terminating(
    fakes: FakeHost,
) -> None:
    assert _state(fakes) == (["Deployment", "ReplicaSet"], ["active", "active"])
    assert _delete(fakes, "background") == ('deployment.apps "web" deleted',)
    assert _state(fakes) == ([], ["terminating", "terminating"])
    assert _kills(fakes) == []  # nothing stopped yet: that is the supervisor's
    names = [p.name for p in fakes.host.store.list_pods()]
    controller = PodController(fakes.host, policy=BackoffPolicy(base=10.0, cap=300.0))
    loop = Loop([controller], workers=2, clock=fakes.clock, resync={})

    async def supervise() -> None:
        loop.add([pod_key("default", n) for n in names])
        await loop.drain()

    asyncio.run(supervise())
    assert _state(fakes) == ([], [])
    assert sorted(_kills(fakes)) == [("kill 15", "app"), ("kill 15", "app")]


def test_foreground_stops_the_pods_before_it_returns(fakes: FakeHost) -> None:
    assert _delete(fakes, "foreground") == ('deployment.apps "web" deleted',)
    assert _state(fakes) == ([], [])
    assert len(_kills(fakes)) == 2
