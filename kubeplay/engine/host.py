"""Host: the adapters of one kubeplay install, opened together, and the pre-flight checks.

The engine is the only layer that combines adapters; services get a Host from `open_host`
and hand it to the engine's functions. Opening is cheap (no subprocess) so read-only commands
such as `get pods` stay fast; `require_runtime` does the checks a command that creates
containers needs, and says what is missing and how to install it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay.errors import HostError
from kubeplay.settings import Settings
from kubeplay.state.store import SqliteStore

if TYPE_CHECKING:  # adapters are imported when first used: `get pods` needs none of them
    from kubeplay.engine.network import HostPodNetwork
    from kubeplay.image.store import ImageStore
    from kubeplay.runtime.exits import ContainerExit
    from kubeplay.runtime.oci import Runtime


@dataclass
class Host:
    settings: Settings

    @cached_property
    def store(self) -> SqliteStore:
        store = SqliteStore(self.settings.state_db)
        forget_previous_boot(store)
        return store

    @cached_property
    def images(self) -> ImageStore:
        from kubeplay.image.store import ImageStore

        return ImageStore(self.settings.images_dir, skopeo=self.settings.skopeo)

    @cached_property
    def runtime(self) -> Runtime:
        from kubeplay.runtime.detect import detect_runtime
        from kubeplay.runtime.oci import Runtime

        s = self.settings
        for path in (s.runtime_root, s.exits_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        return Runtime(
            binary=detect_runtime(s.runtime),
            root=s.runtime_root,
            conmon=s.conmon,
            exits_dir=s.exits_dir,
            socket_dir=self.socket_dir,
        )

    @cached_property
    def network(self) -> HostPodNetwork:
        """Pod network namespaces and their addresses (kubeplay.testing has a fake)."""
        from kubeplay.engine.network import HostPodNetwork

        return HostPodNetwork(self)

    @property
    def socket_dir(self) -> Path:
        return self.settings.runroot / "sockets"

    def read_exit(self, cid: str) -> ContainerExit | None:
        """A container's recorded exit, without detecting or running the runtime."""
        from kubeplay.runtime import exits

        return exits.read_exit(self.settings.exits_dir, self.socket_dir, cid)

    @cached_property
    def host_ip(self) -> str:
        from kubeplay.net import hostinfo

        return hostinfo.host_ip()

    @cached_property
    def seccomp(self) -> dict[str, Any] | None:
        """The default seccomp profile (containers-common's), converted once per command."""
        from kubeplay.plan import ocispec, seccomp

        path = self.settings.seccomp_profile
        if not path.is_file():
            return None
        profile = json.loads(path.read_text())
        return seccomp.convert_profile(profile, capabilities=ocispec.DEFAULT_CAPABILITIES)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def ensure_private_dir(path: Path) -> None:
    """`path` as a directory only its owner (root) may enter: 0700, made so if it was not.
    Everything kubeplay keeps (Secret data in state.db, containers' config.json with their
    env, logs, volumes) is under its two roots, so no other user reaches any of it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)


def forget_previous_boot(store: SqliteStore) -> bool:
    """After a reboot the run root is empty and no container runs: the first command (or
    supervisor) to open the store forgets every recorded pid, so no pid of a previous boot is
    ever signalled or joined, as podman refreshes its state on the first command after a
    reboot. Exit files are kept under the state root, so containers that had finished stay
    finished; the others are seen gone and restarted per restartPolicy. True after a reboot."""
    import time

    from kubeplay import log
    from kubeplay.runtime import procs

    current = procs.boot_id()
    if not current or not store.start_boot(current, at=time.time()):
        return False
    log.get_logger(__name__).info("host_rebooted", boot_id=current)
    return True


def open_host(settings: Settings) -> Host:
    try:
        for path in (settings.root, settings.runroot):
            ensure_private_dir(path)
        settings.locks_dir.mkdir(exist_ok=True)
    except PermissionError as err:
        hint = " (kubeplay must run as root: try sudo)" if os.geteuid() != 0 else ""
        raise HostError(f"cannot use {err.filename}: permission denied{hint}") from err
    return Host(settings)


def _missing_binary(name: str, package: str) -> str | None:
    if os.path.isabs(name):
        return None if os.access(name, os.X_OK) else f"{name} (apt-get install {package})"
    import shutil  # with bz2 and lzma: not for `get pods`

    return None if shutil.which(name) else f"{name} (apt-get install {package})"


def require_runtime(host: Host) -> None:
    """Refuse to create containers on a host that cannot run them."""
    if os.geteuid() != 0:
        raise HostError("kubeplay must run as root to create containers (try sudo)")
    s = host.settings
    missing = [
        m
        for m in (
            _missing_binary(s.conmon, "conmon"),
            _missing_binary(s.catatonit, "catatonit"),
        )
        if m
    ]
    if missing:
        raise HostError("missing on this host: " + ", ".join(missing))
    if "overlay" not in Path("/proc/filesystems").read_text():
        raise HostError("the kernel has no overlayfs (modprobe overlay)")
    _ = host.runtime  # detect_runtime raises HostError naming the package
