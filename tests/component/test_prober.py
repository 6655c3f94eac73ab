"""Prober with fake handlers and a fake clock, a real SqliteStore underneath (no root).

Checks the kubelet prober manager's behaviour end to end inside the engine: one worker per
running container and probe type, periodSeconds and initialDelaySeconds, readiness published
to the store and seen by status, Unhealthy events, a liveness kill handed to the supervisor
once per container instance, the startup probe holding the other two, workers following
container restarts and pod removal.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import pods as engine_pods
from kubeplay.engine.host import Host
from kubeplay.engine.prober import Prober
from kubeplay.plan import pods as pods_mod
from kubeplay.plan import probes, status
from kubeplay.plan.probes import Outcome, ProbeType, Result
from kubeplay.settings import Settings
from kubeplay.state.store import ContainerRecord, PodRecord

T0 = 1_700_000_000.0
OK = Outcome(Result.SUCCESS)
FAIL500 = Outcome(Result.FAILURE, "HTTP probe failed with statuscode: 500")


class FakeClock:
    """Time that moves only when the test says; sleepers wake in deadline order."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), fut))
        await fut

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self.now = deadline
            if not fut.done():
                fut.set_result(None)
            await settle()
        self.now = target
        await settle()


async def inline(call: Callable[[], object]) -> None:
    """The prober's store writes, on the test's loop (no thread: the fake clock rules)."""
    call()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class FakeHandlers:
    """Answers by HTTP path: a script of outcomes per path (the last one repeats)."""

    def __init__(self, script: dict[str, list[Outcome]]) -> None:
        self.script = script
        self.calls: list[tuple[str, float]] = []
        self.clock: FakeClock | None = None

    async def run(
        self, handler: probes.Handler, *, pod_ip: str, container_id: str, timeout: float
    ) -> Outcome:
        assert isinstance(handler, probes.HTTPGetAction)
        assert pod_ip.startswith("10.1.0.")
        self.calls.append((handler.path, self.clock.now if self.clock else 0.0))
        outcomes = self.script[handler.path]
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]

    def times(self, path: str) -> list[float]:
        return [at - T0 for p, at in self.calls if p == path]


def _probe(path: str, **timing: Any) -> dict[str, Any]:
    return {"httpGet": {"port": 80, "path": path}, **timing}


def _manifest(name: str = "web", **probes_: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "web", "image": "busybox", **probes_}]},
    }


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.host = Host(Settings(root=tmp_path / "root", runroot=tmp_path / "run"))
        self.clock = FakeClock(T0)
        self.restarts: list[tuple[str, str, str]] = []
        self.kills: list[probes.ProbeKill] = []

    async def on_restart(self, kill: probes.ProbeKill) -> None:
        self.kills.append(kill)
        self.restarts.append((kill.pod_uid, kill.container, kill.message))

    def add_pod(self, manifest: dict[str, Any], *, uid: str = "u1") -> PodRecord:
        plan = pods_mod.compile_pod(manifest, uid=uid)
        self.host.store.add_pods(
            [
                PodRecord(
                    uid=uid,
                    namespace="default",
                    name=manifest["metadata"]["name"],
                    source="pod.yaml",
                    manifest=manifest,
                    plan_json=pods_mod.to_json(plan),
                    created_at=T0,
                )
            ]
        )
        ip = f"10.1.0.{len(self.host.store.list_pods()) + 4}"
        self.host.store.update_pod(uid, pod_ip=ip, lifecycle="active", started_at=T0)
        return self.start_container(uid, "web", "c1" if uid == "u1" else f"c1-{uid}")

    def start_container(self, uid: str, name: str, cid: str) -> PodRecord:
        self.host.store.put_container(
            ContainerRecord(
                pod_uid=uid, name=name, kind="app", container_id=cid, pid=1, started_at=T0
            )
        )
        rec = self.host.store.get_pod_by_uid(uid)
        assert rec is not None
        return rec

    def prober(self, handlers: FakeHandlers) -> Prober:
        handlers.clock = self.clock
        return Prober(
            self.host,
            on_restart=self.on_restart,
            handlers=handlers,
            clock=self.clock,
            sleep=self.clock.sleep,
            offload=inline,
        )

    def ready(self, uid: str = "u1") -> tuple[bool, bool, str]:
        """(container ready, started, pod Ready condition) as `get pod` derives them; the
        test's container counts as running (pid 1 is alive, no exit file)."""
        rec = self.host.store.get_pod_by_uid(uid)
        assert rec is not None
        observed = engine_pods.observe(self.host, rec)
        got = status.derive_pod_status(pods_mod.from_json(rec.plan_json), observed)
        (cs,) = got["containerStatuses"]
        cond = next(c["status"] for c in got["conditions"] if c["type"] == "Ready")
        return cs["ready"], cs["started"], cond

    def events(self) -> list[tuple[str, str, str, int]]:
        return [(e.reason, e.message, e.field_path, e.count) for e in self.host.store.list_events()]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.host.close()


def test_readiness_success_makes_the_pod_ready_and_failures_unready(env: Env) -> None:
    rec = env.add_pod(_manifest(readinessProbe=_probe("/ready", periodSeconds=1)))
    handlers = FakeHandlers({"/ready": [OK, OK, FAIL500, FAIL500, FAIL500, OK]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        await settle()
        assert env.ready() == (True, True, "True")  # first probe runs at once
        await env.clock.advance(3)  # two failures: below failureThreshold 3
        assert env.ready() == (True, True, "True")
        await env.clock.advance(1)  # the third
        assert env.ready() == (False, True, "False")
        await env.clock.advance(1)
        assert env.ready() == (True, True, "True")
        await prober.close()

    asyncio.run(scenario())
    assert handlers.times("/ready") == [0, 1, 2, 3, 4, 5]
    assert env.events() == [
        (
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 500",
            "spec.containers{web}",
            3,
        )
    ]
    assert env.restarts == []


def test_readiness_not_yet_probed_is_not_ready(env: Env) -> None:
    rec = env.add_pod(_manifest(readinessProbe=_probe("/ready", initialDelaySeconds=5)))
    handlers = FakeHandlers({"/ready": [OK]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        await settle()
        assert env.ready() == (False, True, "False")
        await env.clock.advance(10)  # initialDelaySeconds 5, periodSeconds 10 (default)
        assert env.ready() == (True, True, "True")
        await prober.close()

    asyncio.run(scenario())
    assert handlers.times("/ready") == [10]


def test_liveness_failure_calls_on_restart_once_and_holds(env: Env) -> None:
    rec = env.add_pod(_manifest(livenessProbe=_probe("/live", periodSeconds=2)))
    handlers = FakeHandlers({"/live": [OK, FAIL500]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        await env.clock.advance(20)
        await prober.close()

    asyncio.run(scenario())
    assert env.restarts == [("u1", "web", "Container web failed liveness probe, will be restarted")]
    assert handlers.times("/live") == [0, 2, 4, 6]  # on hold after the third failure
    assert env.events() == [
        (
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
            "spec.containers{web}",
            3,
        )
    ]


def test_new_container_instance_gets_fresh_probes(env: Env) -> None:
    rec = env.add_pod(_manifest(livenessProbe=_probe("/live", periodSeconds=1, failureThreshold=1)))
    handlers = FakeHandlers({"/live": [FAIL500]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        await env.clock.advance(5)
        assert len(env.restarts) == 1
        prober.update([env.start_container("u1", "web", "c2")])  # the supervisor restarted it
        await env.clock.advance(5)
        assert len(env.restarts) == 2
        await prober.close()

    asyncio.run(scenario())
    assert handlers.times("/live") == [0, 5]


def test_startup_probe_holds_liveness_and_readiness_until_it_succeeds(env: Env) -> None:
    rec = env.add_pod(
        _manifest(
            startupProbe=_probe("/start", periodSeconds=1, failureThreshold=30),
            livenessProbe=_probe("/live", periodSeconds=1),
            readinessProbe=_probe("/ready", periodSeconds=1),
        )
    )
    handlers = FakeHandlers(
        {"/start": [FAIL500, FAIL500, FAIL500, OK], "/live": [OK], "/ready": [OK]}
    )

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        await env.clock.advance(2.5)
        assert env.ready() == (False, False, "False")
        assert handlers.times("/live") == handlers.times("/ready") == []
        await env.clock.advance(2)  # startup succeeds at t=3, the others run from then on
        assert env.ready() == (True, True, "True")
        await prober.close()

    asyncio.run(scenario())
    assert handlers.times("/start") == [0, 1, 2, 3]  # not probed once the container started
    assert handlers.times("/live")[0] >= 3
    assert handlers.times("/ready")[0] >= 3
    assert env.restarts == []


def test_startup_failure_kills_with_the_startup_message(env: Env) -> None:
    rec = env.add_pod(_manifest(startupProbe=_probe("/start", periodSeconds=1)))
    handlers = FakeHandlers({"/start": [FAIL500]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        await env.clock.advance(5)
        await prober.close()

    asyncio.run(scenario())
    assert env.restarts == [("u1", "web", "Container web failed startup probe, will be restarted")]
    assert [k.probe_type for k in env.kills] == [ProbeType.STARTUP]  # its grace period applies


def test_workers_follow_the_pods(env: Env) -> None:
    rec = env.add_pod(
        _manifest(
            livenessProbe=_probe("/live"),
            readinessProbe=_probe("/ready"),
        )
    )
    plain = env.add_pod(_manifest("plain"), uid="u2")
    handlers = FakeHandlers({"/live": [OK], "/ready": [OK]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec, plain])
        assert prober.workers() == [
            ("u1", "web", ProbeType.LIVENESS),
            ("u1", "web", ProbeType.READINESS),
        ]
        terminating = env.host.store.get_pod_by_uid("u1")
        assert terminating is not None
        env.host.store.update_pod("u1", lifecycle="terminating")
        prober.update([env.host.store.get_pod_by_uid("u1")])  # type: ignore[list-item]
        assert prober.workers() == []
        prober.update([rec])
        assert len(prober.workers()) == 2
        prober.update([])
        assert prober.workers() == []
        await settle()
        assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())
        prober.update([rec])
        await prober.close()
        assert prober.workers() == []

    asyncio.run(scenario())


def test_exited_container_is_not_probed(env: Env) -> None:
    rec = env.add_pod(_manifest(readinessProbe=_probe("/ready")))
    exits = env.host.settings.exits_dir
    exits.mkdir(parents=True, exist_ok=True)
    (exits / "c1").write_text("0")
    handlers = FakeHandlers({"/ready": [OK]})

    async def scenario() -> None:
        prober = env.prober(handlers)
        prober.update([rec])
        assert prober.workers() == []
        await prober.close()

    asyncio.run(scenario())


def test_a_failing_on_restart_does_not_stop_the_prober(env: Env) -> None:
    rec = env.add_pod(_manifest(livenessProbe=_probe("/live", periodSeconds=1, failureThreshold=1)))
    handlers = FakeHandlers({"/live": [FAIL500]})

    async def boom(kill: probes.ProbeKill) -> None:
        raise RuntimeError("supervisor busy")

    async def scenario() -> None:
        prober = Prober(
            env.host,
            on_restart=boom,
            handlers=handlers,
            clock=env.clock,
            sleep=env.clock.sleep,
            offload=inline,
        )
        prober.update([rec])
        await env.clock.advance(3)
        assert prober.workers() == [("u1", "web", ProbeType.LIVENESS)]
        await prober.close()

    asyncio.run(scenario())
