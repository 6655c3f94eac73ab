"""Fakes of the adapters the engine drives, for component tests that need no root.

`fake_host` opens a real `Host` (a real `SqliteStore` under a temporary root) whose runtime,
image store and pod network are fakes, so that the engine's own code (`engine.pods`,
`engine.restarts`, the pod controller, the loop) runs unchanged:

- `FakeRuntime`: containers as a state machine (created -> running -> exited -> deleted).
  A container exits when the test says (`exit`, or `exit_on_start`) or when it is
  signalled (unless it ignores that signal), and then writes a conmon-style exit file whose
  mtime is the fake clock's time, so observe, back-off and status read it as they read
  conmon's. Every call is logged (`calls`) for order checks; `fail_start` makes a
  container's create fail.
- `FakeImageStore`: images by reference with their config; mounting a rootfs makes a
  directory with an /etc/passwd.
- `FakeNetwork`: address leases in the store (the real IPAM), no netns and no netlink.

`claim_subnet` is for the root tests (e2e, net integration): a subnet one test uses, locked
against the tests run beside it.

Test-only: nothing in kubeplay imports this module.
"""

from __future__ import annotations

import itertools
import os
import signal as signal_mod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay.engine import host as host_mod
from kubeplay.engine.host import Host
from kubeplay.errors import ImageError, RuntimeCommandError
from kubeplay.plan import images as imgplan
from kubeplay.plan.images import ImageConfig
from kubeplay.plan.pods import PodPlan
from kubeplay.runtime import exits
from kubeplay.runtime.exits import ContainerExit
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord

BUSYBOX = "busybox"


class FakeClock:
    """Epoch seconds that move only when the test says."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeContainer:
    cid: str
    name: str
    pod_uid: str
    bundle: Path
    state: str = "created"  # created | running | exited | deleted
    exit_code: int | None = None


@dataclass
class FakeRuntime:
    settings: Settings
    clock: Callable[[], float]
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, container name)
    fail_start: set[str] = field(default_factory=set)  # container names whose create fails
    ignore: dict[str, set[int]] = field(default_factory=dict)  # name -> signals it ignores
    exit_on_start: dict[str, int] = field(default_factory=dict)  # name -> its exit code

    # --- the runtime adapter's calls (engine) --------------------------------------------

    def create(
        self,
        cid: str,
        *,
        bundle: Path,
        name: str,
        log_path: Path,
        persist_dir: Path,
        tty: bool = False,
        stdin: bool = False,
    ) -> int:
        self.calls.append(("create", name))
        if name in self.fail_start:
            raise RuntimeCommandError(["fake-runc", "create", cid], 1, "exec format error")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
        self.containers[cid] = FakeContainer(cid, name, _pod_uid(self.settings, bundle), bundle)
        return os.getpid()  # a live pid: the process "runs" until its exit file appears

    def start(self, cid: str) -> None:
        ctr = self.containers[cid]
        self.calls.append(("start", ctr.name))
        ctr.state = "running"
        if ctr.name in self.exit_on_start:  # a script that ends at once (`exit 0`)
            self._exit(ctr, self.exit_on_start[ctr.name])

    def kill(self, cid: str, signal: str | int, *, all_procs: bool = False, pid: int = 0) -> None:
        ctr = self.containers.get(cid)
        number = _signal_number(signal)
        self.calls.append((f"kill {number}", ctr.name if ctr else cid))
        if ctr is None or ctr.state != "running":
            return
        if number in self.ignore.get(ctr.name, set()) and number != signal_mod.SIGKILL:
            return
        self._exit(ctr, 128 + number)

    def delete(self, cid: str, *, force: bool = False) -> None:
        ctr = self.containers.get(cid)
        self.calls.append(("delete", ctr.name if ctr else cid))
        if ctr is None:
            return
        if ctr.state == "running" and force:
            self._exit(ctr, 128 + signal_mod.SIGKILL)
        ctr.state = "deleted"
        (self.settings.exits_dir / cid).unlink(missing_ok=True)

    def monitor_alive(self, cid: str) -> bool:
        """A fake container's conmon lives as long as the container is not deleted."""
        ctr = self.containers.get(cid)
        return ctr is not None and ctr.state != "deleted"

    def wait_process(self, pid: int, timeout: float) -> bool:
        """Only for containers whose conmon is gone, which a fake never has."""
        return True

    def read_exit(self, cid: str) -> ContainerExit | None:
        return exits.read_exit(self.settings.exits_dir, self.settings.runroot / "sockets", cid)

    def wait_exit(self, cid: str, timeout: float) -> ContainerExit | None:
        """No waiting: a fake container has exited already, or exits only when told."""
        return self.read_exit(cid)

    # --- the test's side -----------------------------------------------------------------

    def find(self, pod_uid: str, name: str, *, state: str = "running") -> FakeContainer | None:
        """The latest container `name` of the pod in `state`."""
        found = [
            c
            for c in self.containers.values()
            if c.pod_uid == pod_uid and c.name == name and c.state == state
        ]
        return found[-1] if found else None

    def exit(self, pod_uid: str, name: str, code: int) -> str:
        """The running container `name` of the pod exits with `code`; its id."""
        ctr = self.find(pod_uid, name)
        if ctr is None:
            raise AssertionError(f"no running container {name} in pod {pod_uid}")
        self._exit(ctr, code)
        return ctr.cid

    def running(self) -> list[tuple[str, str]]:
        """(pod uid, name) of every running container, in creation order."""
        return [(c.pod_uid, c.name) for c in self.containers.values() if c.state == "running"]

    def _exit(self, ctr: FakeContainer, code: int) -> None:
        ctr.state, ctr.exit_code = "exited", code
        directory = self.settings.exits_dir
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{ctr.cid}.tmp"
        tmp.write_text(str(code))
        when = self.clock()
        os.utime(tmp, (when, when))
        os.replace(tmp, directory / ctr.cid)  # as conmon: write, then rename into place


def _pod_uid(settings: Settings, bundle: Path) -> str:
    try:
        return bundle.relative_to(settings.pods_dir).parts[0]
    except (ValueError, IndexError):
        return ""


def _signal_number(value: str | int) -> int:
    if isinstance(value, int):
        return value
    name = value.strip().upper()
    if name.isdigit():
        return int(name)
    return int(getattr(signal_mod, name if name.startswith("SIG") else "SIG" + name))


@dataclass(frozen=True, slots=True)
class FakeImage:
    image_id: str
    names: tuple[str, ...]
    config: ImageConfig


class FakeImageStore:
    """Images by reference; `pull` succeeds for the images it holds (policy Always)."""

    def __init__(self, images: Mapping[str, ImageConfig] | None = None) -> None:
        wanted = images if images is not None else {BUSYBOX: ImageConfig(cmd=("sh",))}
        self.images: dict[str, FakeImage] = {}
        self.mounted: set[Path] = set()
        self.pulls: list[str] = []
        for index, (ref, config) in enumerate(sorted(wanted.items())):
            image_id = f"sha256:{index + 1:064x}"
            self.images[imgplan.normalize_reference(ref)] = FakeImage(
                image_id, (imgplan.normalize_reference(ref),), config
            )

    def find(self, ref_or_id: str, *, candidates: tuple[str, ...] | list[str] = ()) -> Any:
        for want in (ref_or_id, *candidates):
            for img in self.images.values():
                if want == img.image_id or _normalized(want) in img.names:
                    return img
        return None

    def pull(self, source: Any, *, options: Any = None, progress: Any = None) -> Any:
        name = str(getattr(source, "name", source))
        self.pulls.append(name)
        found = self.find(name)
        if found is None:
            raise ImageError(f"{name}: manifest unknown")
        return found

    def mount_rootfs(self, image_id: str, *, target: Path, upper: Path, work: Path) -> None:
        for path in (target / "etc", upper, work):
            path.mkdir(parents=True, exist_ok=True)
        (target / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (target / "etc" / "group").write_text("root:x:0:\n")
        self.mounted.add(target)

    def unmount_rootfs(self, target: Path, *, lazy: bool = False) -> None:
        self.mounted.discard(target)


def _normalized(ref: str) -> str:
    return ref if ref.startswith("sha256:") else imgplan.normalize_reference(ref)


class FakeNetwork:
    """Leases pod addresses in the store, as the real network does; no netns, no netlink."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self.attached: dict[str, str] = {}  # pod uid -> IP

    def lease(self, plan: PodPlan) -> str:
        from kubeplay.engine.network import lease_ip

        return lease_ip(self._host, plan)

    def attach(self, plan: PodPlan, netns: Path) -> str:
        ip = self.lease(plan)
        self.attached[plan.uid] = ip
        return ip

    def release(self, rec: PodRecord) -> None:
        self.attached.pop(rec.uid, None)

    def create_namespace(self, path: Path, kind: str, *, hostname: str = "") -> None:
        """A plain file stands in for the pinned namespace."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def remove_namespace(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def ensure_shm(self, uid: str) -> Path:
        """A plain directory stands in for the pod's /dev/shm tmpfs."""
        from kubeplay.engine import volumes

        target = volumes.pod_shm_dir(self._host, uid)
        target.mkdir(parents=True, exist_ok=True)
        return target


@dataclass
class FakeHost:
    host: Host
    clock: FakeClock
    runtime: FakeRuntime
    images: FakeImageStore
    network: FakeNetwork


_uids = itertools.count(1)


def fake_host(root: Path, *, clock: FakeClock, images: FakeImageStore | None = None) -> FakeHost:
    """A Host under `root` with a real store and fake runtime, images and network."""
    settings = Settings(
        root=root / "root",
        runroot=root / "run",
        seccomp_profile=root / "no-seccomp.json",
        subnet="10.1.0.0/24",
        bridge="kpfake0",
    )
    host = host_mod.open_host(settings)
    fakes = FakeHost(
        host=host,
        clock=clock,
        runtime=FakeRuntime(settings, clock),
        images=images or FakeImageStore(),
        network=FakeNetwork(host),
    )
    use_fakes(host, fakes)
    return fakes


def use_fakes(host: Host, fakes: FakeHost) -> None:
    """Give `host` the runtime, images and pod network of `fakes`. The Host's adapters are
    cached properties: setting them first keeps the real ones away."""
    host.__dict__.update(
        runtime=fakes.runtime,
        images=fakes.images,
        network=fakes.network,
        host_ip="127.0.0.1",
        seccomp=None,
    )


def new_uid() -> str:
    return f"00000000-0000-4000-8000-{next(_uids):012d}"


if TYPE_CHECKING:
    from kubeplay.engine.ports import ContainerRuntime, PodNetwork, RootfsMounter

    def _fits(
        runtime: FakeRuntime, images: FakeImageStore, network: FakeNetwork
    ) -> tuple[ContainerRuntime, RootfsMounter, PodNetwork]:
        return runtime, images, network


SUBNET_CLAIMS = Path("/run/kubeplay-test-subnets")


def claim_subnet(network: str) -> int | None:
    """Claim `network` for one test: the fd of a lock on a file named after it (close it when
    the test ends; the lock also goes with its process), or None when another test holds it.
    Two tests started at once on two xdist workers both saw a subnet free before either made
    its bridge, and the second dnsmasq found the gateway's port 53 taken."""
    from kubeplay.engine import locks

    return locks.try_lock(SUBNET_CLAIMS / network.split("/", 1)[0])
