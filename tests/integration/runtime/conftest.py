"""Fixtures for the runtime integration tests: real runc + conmon, one sandbox per test.

Each test gets its own runtime root, exit dir and socket dir under tmp_path, random container
ids and cgroups under /kubeplay-test/<cid>. The `harness` finalizer force-removes whatever a
test left (also when it failed) and then asserts that no container, conmon or cgroup remains.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubeplay.runtime import Runtime, detect_runtime
from tests.integration.runtime import bundles


@dataclass(frozen=True)
class Ctr:
    cid: str
    bundle: Path
    log_path: Path
    persist_dir: Path


@dataclass
class Harness:
    rt: Runtime
    base: Path
    rootfs: Path
    cids: list[str] = field(default_factory=list)

    def new(
        self, args: Sequence[str], *, pid_namespace: bool = True, terminal: bool = False
    ) -> Ctr:
        """A fresh container id with its bundle (not created yet)."""
        cid = "kpt-" + secrets.token_hex(8)
        self.cids.append(cid)
        bundle = bundles.write_bundle(
            self.base / "bundles" / cid,
            rootfs=self.rootfs,
            cid=cid,
            args=args,
            terminal=terminal,
            pid_namespace=pid_namespace,
        )
        logs = self.base / "logs"
        logs.mkdir(exist_ok=True)
        return Ctr(cid, bundle, logs / f"{cid}.log", self.base / "persist" / cid)

    def create(self, ctr: Ctr, *, tty: bool = False) -> int:
        return self.rt.create(
            ctr.cid,
            bundle=ctr.bundle,
            name=ctr.cid,
            log_path=ctr.log_path,
            persist_dir=ctr.persist_dir,
            tty=tty,
        )

    def run(self, args: Sequence[str], *, pid_namespace: bool = True) -> Ctr:
        ctr = self.new(args, pid_namespace=pid_namespace)
        self.create(ctr)
        self.rt.start(ctr.cid)
        return ctr

    def leftovers(self) -> list[str]:
        """Everything of this test's containers that still exists."""
        found: list[str] = []
        for cid in self.cids:
            if self.rt.state(cid) is not None:
                found.append(f"{cid}: runtime state")
            if pids := bundles.conmon_pids(cid):
                found.append(f"{cid}: conmon {pids}")
            if dirs := bundles.cgroup_dirs(cid):
                found.append(f"{cid}: cgroups {[str(d) for d in dirs]}")
            if (self.rt.exits_dir / cid).exists():
                found.append(f"{cid}: exit file")
        if listed := self.rt.list():
            found.append(f"runtime lists {[s.id for s in listed]}")
        return found

    def force_cleanup(self) -> None:
        for cid in self.cids:
            with contextlib.suppress(Exception):
                self.rt.delete(cid, force=True)
            for pid in bundles.conmon_pids(cid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                bundles.remove_cgroup_dirs(cid)


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield bundles.build_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")
    bundles.remove_cgroup_parent()


@pytest.fixture
def harness(tmp_path: Path, rootfs: Path) -> Iterator[Harness]:
    rt = Runtime(
        binary=detect_runtime("auto"),
        root=tmp_path / "runtime",
        conmon="conmon",
        exits_dir=tmp_path / "exits",
        socket_dir=tmp_path / "sockets",
    )
    h = Harness(rt=rt, base=tmp_path, rootfs=rootfs)
    try:
        yield h
    finally:
        h.force_cleanup()
    assert h.leftovers() == []
