"""The supervisor's triggers become object keys on its loop (real inotify, no root): a
command's nudge names its keys (or none: a full pass), a conmon exit file names a container
whose pod is known (or not: a full pass), a probe's kill queues its pod."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import network, nudges
from kubeplay.engine import supervisor as supervisor_mod
from kubeplay.engine.controllers.pods import pod_key
from kubeplay.engine.controllers.services import NETWORK_KEY
from kubeplay.engine.loop import ObjectKey
from kubeplay.plan.probes import ProbeKill, ProbeType
from kubeplay.runtime.watch import DirWatch
from kubeplay.services import supervision
from kubeplay.settings import Settings
from kubeplay.state.store import ContainerRecord, PodRecord

WEB = pod_key("default", "web")
API = pod_key("prod", "api")
CID = "ab" * 32


@pytest.fixture
def sup(tmp_path: Path) -> Iterator[supervisor_mod.Supervisor]:
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    s = supervisor_mod.Supervisor(settings)
    s.loop._full = False  # as after the first full pass
    yield s
    s.host.close()


def _watch(sup: supervisor_mod.Supervisor) -> DirWatch:
    settings = sup.settings
    for directory in (settings.exits_dir, supervisor_mod.wake_dir(settings)):
        directory.mkdir(parents=True, exist_ok=True)
    return DirWatch([settings.exits_dir, supervisor_mod.wake_dir(settings)])


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(WEB, id="pod-in-default"),
        pytest.param(ObjectKey("Pod", "kube-system", "a.b-c"), id="dotted-name"),
    ],
)
def test_wake_names_carry_their_key(key: ObjectKey) -> None:
    name = supervisor_mod.wake_name("123-456", key)
    assert supervisor_mod.parse_wake_name(name) == key


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("123-456", id="an-older-commands-nudge"),
        pytest.param("123-456_Pod_default", id="truncated"),
        pytest.param(supervisor_mod.wake_name("1", ObjectKey("Pod", "ns", "x" * 300)), id="long"),
    ],
)
def test_a_wake_name_without_a_whole_key_means_a_full_pass(name: str) -> None:
    assert supervisor_mod.parse_wake_name(name) is None


def test_a_nudge_with_keys_queues_those_keys(sup: supervisor_mod.Supervisor) -> None:
    watch = _watch(sup)
    try:
        supervisor_mod.nudge(sup.settings, [API, WEB])
        sup._on_watch(watch, sup.settings.exits_dir)
    finally:
        watch.close()
    assert sorted(sup.loop.queue.queued) == [WEB, API]
    assert sup.loop._full is False


def test_a_nudge_without_keys_asks_for_a_full_pass(sup: supervisor_mod.Supervisor) -> None:
    watch = _watch(sup)
    try:
        supervisor_mod.nudge(sup.settings)
        sup._on_watch(watch, sup.settings.exits_dir)
    finally:
        watch.close()
    assert sup.loop.queue.queued == ()
    assert sup.loop._full is True


def _known_pod(sup: supervisor_mod.Supervisor) -> None:
    store = sup.host.store
    store.add_pods(
        [
            PodRecord(
                uid="u1",
                namespace="default",
                name="web",
                source="web.yaml",
                manifest={},
                plan_json="{}",
                created_at=1.0,
            )
        ]
    )
    store.put_container(ContainerRecord(pod_uid="u1", name="app", kind="app", container_id=CID))
    assert sup.pods.keys() == [WEB]


def test_an_exit_file_queues_the_pod_of_that_container(sup: supervisor_mod.Supervisor) -> None:
    _known_pod(sup)
    watch = _watch(sup)
    try:
        (sup.settings.exits_dir / CID).write_text("1")
        sup._on_watch(watch, sup.settings.exits_dir)
    finally:
        watch.close()
    assert sup.loop.queue.queued == (WEB,)
    assert sup.loop._full is False


def test_an_exit_of_an_unknown_container_asks_for_a_full_pass(
    sup: supervisor_mod.Supervisor,
) -> None:
    watch = _watch(sup)
    try:
        (sup.settings.exits_dir / CID).write_text("1")
        sup._on_watch(watch, sup.settings.exits_dir)
    finally:
        watch.close()
    assert sup.loop.queue.queued == ()
    assert sup.loop._full is True


def test_a_probe_kill_queues_its_pod(sup: supervisor_mod.Supervisor) -> None:
    import asyncio

    _known_pod(sup)
    kill = ProbeKill("u1", "app", CID, ProbeType.LIVENESS, "Container app failed liveness probe")
    asyncio.run(sup._probe_restart(kill))
    assert sup.loop.queue.queued == (WEB,)


class _Child:
    """Stands in for the started `kubeplay agent`: it keeps the lock fd it was handed (a dup
    shares the open file, and so the flock), as the real process inherits it."""

    def __init__(self, argv: list[str], *, pass_fds: Sequence[int], env: dict[str, str]) -> None:
        self.argv = argv
        self.env = env
        self.pid = 4242
        self.fds = [os.dup(fd) for fd in pass_fds]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[_Child]]:
    children: list[_Child] = []

    def popen(argv: list[str], *, pass_fds: Sequence[int], env: dict[str, str], **_: Any) -> _Child:
        children.append(_Child(argv, pass_fds=pass_fds, env=env))
        return children[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)  # supervision imports it when starting
    yield children
    for child in children:
        for fd in child.fds:
            os.close(fd)


def test_a_supervisor_being_started_is_seen_running_and_not_started_twice(
    tmp_path: Path, started: list[_Child]
) -> None:
    # Commands right after a play (get pods, delete) must not start a second supervisor
    # while the first one still imports: the starting command takes the lock, hands it over
    # open and writes the pid before it returns.
    settings = Settings(root=tmp_path / "root", runroot=tmp_path / "run")
    assert supervision.start_background(settings) == 4242
    assert nudges.running_pid(settings) == 4242
    assert started[0].env[nudges.LOCK_FD_ENV].isdigit()
    wake = supervisor_mod.wake_dir(settings)
    wake.mkdir(parents=True)
    watch = DirWatch([wake])
    try:
        assert supervision.start_background(settings) is None  # a nudge for a full pass
        assert {supervisor_mod.parse_wake_name(n) for _, n in watch.names()} == {None}
    finally:
        watch.close()
    assert len(started) == 1


def test_the_started_supervisor_keeps_the_lock_it_was_handed(
    sup: supervisor_mod.Supervisor, started: list[_Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert supervision.start_background(sup.settings) == 4242
    fd = started[0].fds.pop()  # the supervisor's now
    monkeypatch.setenv(nudges.LOCK_FD_ENV, str(fd))
    assert sup._acquire()
    assert sup._lock_fd == fd
    assert not os.get_inheritable(fd)  # no conmon or runtime started from it inherits it
    assert nudges.LOCK_FD_ENV not in os.environ  # taken once
    assert nudges.running_pid(sup.settings) == os.getpid()
    sup._release()
    assert nudges.running_pid(sup.settings) is None


def test_a_handed_fd_that_is_not_the_lock_is_not_trusted(
    sup: supervisor_mod.Supervisor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        monkeypatch.setenv(nudges.LOCK_FD_ENV, str(other))
        assert sup._acquire()  # took the lock itself
        assert sup._lock_fd != other
        sup._release()
    finally:
        os.close(other)


def test_a_pod_change_before_the_first_services_sync_queues_the_network(
    sup: supervisor_mod.Supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh supervisor does not yet know whether Services exist: a pod's readiness flip
    reported while its first Services sync runs must reach the rules at once (it waited for
    the 2 s poll: `make run`'s curl right after the rollout was refused). Once a sync found
    no Service, pod changes cost nothing."""
    pod = PodRecord(
        uid="u1",
        namespace="default",
        name="web",
        source="",
        manifest={},
        plan_json="",
        created_at=0.0,
    )
    assert sup.services.pod_watcher(pod) == [NETWORK_KEY]
    none = network.NodeNetwork(ruleset=None, names={}, services=0)
    monkeypatch.setattr(network, "refresh", lambda host, only_changed=False: none)
    sup.services.sync(NETWORK_KEY, now=100.0)
    assert sup.services.pod_watcher(pod) == []
