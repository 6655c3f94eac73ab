"""The adapter calls a pod's sync, restart and teardown make, as Protocols: what
`kubeplay.testing`'s fakes stand in for. mypy checks that the real adapters and the fakes
both fit (`_fits` below, and `kubeplay.testing`), so the two cannot drift apart unseen.
Declarations only: nothing here runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kubeplay.engine.network import HostPodNetwork
    from kubeplay.image.store import ImageStore
    from kubeplay.plan.pods import PodPlan
    from kubeplay.runtime.exits import ContainerExit
    from kubeplay.runtime.oci import Runtime
    from kubeplay.state.store import PodRecord


class ContainerRuntime(Protocol):
    """runc/crun under conmon (`runtime.oci.Runtime`): the calls the engine's pod sync makes."""

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
    ) -> int: ...

    def start(self, cid: str) -> None: ...

    def kill(
        self, cid: str, signal: str | int, *, all_procs: bool = False, pid: int = 0
    ) -> None: ...

    def monitor_alive(self, cid: str) -> bool: ...

    def wait_process(self, pid: int, timeout: float) -> bool: ...

    def delete(self, cid: str, *, force: bool = False) -> None: ...

    def read_exit(self, cid: str) -> ContainerExit | None: ...

    def wait_exit(self, cid: str, timeout: float) -> ContainerExit | None: ...


class RootfsMounter(Protocol):
    """The image store's part in a container's start and retirement."""

    def mount_rootfs(self, image_id: str, *, target: Path, upper: Path, work: Path) -> None: ...

    def unmount_rootfs(self, target: Path, *, lazy: bool = False) -> None: ...


class PodNetwork(Protocol):
    """A pod's network namespace and address (`Host.network`)."""

    def lease(self, plan: PodPlan) -> str: ...

    def attach(self, plan: PodPlan, netns: Path) -> str: ...

    def release(self, rec: PodRecord) -> None: ...

    def create_namespace(self, path: Path, kind: str, *, hostname: str = "") -> None: ...

    def remove_namespace(self, path: Path) -> None: ...

    def ensure_shm(self, uid: str) -> Path: ...


if TYPE_CHECKING:

    def _fits(
        runtime: Runtime, images: ImageStore, network: HostPodNetwork
    ) -> tuple[ContainerRuntime, RootfsMounter, PodNetwork]:
        return runtime, images, network
