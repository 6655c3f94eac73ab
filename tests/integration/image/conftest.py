"""Fixtures for the image store integration tests (root: overlay mounts, chown, mknod).

Every test gets its own store under tmp_path. `mounter` records each rootfs it mounts and
unmounts them all at teardown, even when the test failed, then checks /proc/self/mountinfo.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubeplay.image import ImageStore, mounts

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "busybox-rootfs.sh"

Mounter = Callable[..., Path]


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rootfs") / "busybox.tar"
    subprocess.run(["sh", str(SCRIPT), str(out)], check=True)
    return out


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


@pytest.fixture
def mounter(store: ImageStore, tmp_path: Path) -> Iterator[Mounter]:
    targets: list[Path] = []

    def mount(image_id: str, name: str = "c1") -> Path:
        base = tmp_path / "containers" / name
        targets.append(base / "rootfs")
        store.mount_rootfs(
            image_id, target=base / "rootfs", upper=base / "upper", work=base / "work"
        )
        return base

    yield mount
    for target in targets:
        store.unmount_rootfs(target)
    leaked = [str(target) for target in targets if mounts.is_mounted(target)]
    assert not leaked, f"still mounted: {leaked}"
