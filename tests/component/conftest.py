"""Component tests: the engine with fakes (kubeplay.testing) and a real store, no root.

The node network's refresh (`engine.network.refresh`) still renders the nft table and the DNS
names and keeps the EndpointSlices in the store, but nothing of it reaches the host: no nft
table, bridge, dnsmasq or conntrack entry (`make test` runs as root, where they would).

Every test here that runs an event loop must leave no task behind: `asyncio.run` is wrapped
so that tasks still pending when its coroutine returns fail the test (they would be
cancelled silently otherwise, hiding a worker or timer that outlives its owner).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_pending_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    left: list[str] = []
    real_run = asyncio.run

    async def checked(main: Coroutine[Any, Any, Any]) -> Any:
        result = await main
        await asyncio.sleep(0)  # let tasks that were just cancelled finish
        me = asyncio.current_task()
        left.extend(t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done())
        return result

    def run(main: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
        return real_run(checked(main), **kwargs)

    monkeypatch.setattr(asyncio, "run", run)
    yield left
    if left:
        pytest.fail(f"asyncio tasks left pending: {sorted(left)}")


class _NoDns:
    def ensure_running(self) -> None: ...
    def update_hosts(self, entries: object) -> None: ...
    def update_records(self, lines: object) -> bool:
        return False

    def stop(self) -> None: ...


@pytest.fixture(autouse=True)
def no_node_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rulesets the refresh would apply, in order."""
    from kubeplay.engine import network
    from kubeplay.net import nft

    applied: list[str] = []
    monkeypatch.setattr(nft, "apply_nft", applied.append)
    monkeypatch.setattr(nft, "remove_nft_table", lambda table: None)
    monkeypatch.setattr(network, "ensure_node", lambda host: None)
    monkeypatch.setattr(network, "_dnsmasq", lambda host: _NoDns())
    monkeypatch.setattr(network, "_sweep_stale_udp", lambda host, want: None)
    monkeypatch.setattr(network, "_clear_stale_udp", lambda before, after: None)
    monkeypatch.setattr(network, "_applied", {})
    return applied
