"""play's rollback over the fake runtime, images and network (no root): a failure after its
pods run, in the node network's refresh, removes everything the play made, as a failure
while its pods start does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import host as host_mod
from kubeplay.engine import network
from kubeplay.errors import NetworkError, SyncError
from kubeplay.kube.objects import KubeObject
from kubeplay.plan.apply import PLAY_SOURCE, ApplyMode
from kubeplay.plan.images import ImageConfig
from kubeplay.services import apply as apply_svc
from kubeplay.state.store import SqliteStore
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host


def _objects() -> list[KubeObject]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sh"]}]},
    }
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {}}
    return [KubeObject(body=config, source="app.yaml"), KubeObject(body=pod, source="app.yaml")]


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHost]:
    images = FakeImageStore({"busybox": ImageConfig(cmd=("sh",))})
    made = fake_host(tmp_path, clock=FakeClock(time.time()), images=images)
    monkeypatch.setattr(host_mod, "open_host", lambda _settings: made.host)
    monkeypatch.setattr(host_mod, "require_runtime", lambda _host: None)
    yield made
    made.host.close()


NFT_FAILED = "nft ruleset: nft failed (exit 1): Error: Could not process rule"
REMOVED = "everything this play created was removed"


@pytest.mark.parametrize(
    ("failures", "message"),
    [
        pytest.param(1, f"{NFT_FAILED} ({REMOVED})", id="refresh-fails-once"),
        pytest.param(
            2,
            f"{NFT_FAILED} ({REMOVED}; the node network's refresh failed again: {NFT_FAILED})",
            id="refresh-fails-again-in-the-rollback",
        ),
    ],
)
def test_a_failed_network_refresh_after_the_pods_run_rolls_the_play_back(
    fakes: FakeHost, monkeypatch: pytest.MonkeyPatch, failures: int, message: str
) -> None:
    """The node network's refresh (nft table, DNS names) comes after play's pods run: when
    it fails, the pods are torn down and the objects the play stored are removed, as for a
    pod that fails to start, and the rollback refreshes the network again."""
    refreshes: list[int] = []

    def refresh(host: Any, **_: Any) -> None:
        refreshes.append(len(fakes.runtime.containers))
        if len(refreshes) <= failures:
            raise NetworkError(NFT_FAILED)

    monkeypatch.setattr(network, "refresh", refresh)
    settings = fakes.host.settings
    with pytest.raises(SyncError) as caught:
        apply_svc.run(settings, _objects(), source=PLAY_SOURCE, mode=ApplyMode.PLAY, verb="play")
    assert str(caught.value) == message
    assert len(refreshes) == 2  # after the pods ran (2 containers: infra, app), the rollback's
    assert refreshes[0] == 2
    assert [c.state for c in fakes.runtime.containers.values()] == ["deleted", "deleted"]
    store = SqliteStore(settings.state_db)
    try:
        assert store.list_pods() == []
        assert store.list_records() == []
    finally:
        store.close()
