"""mount_rootfs/unmount_rootfs: overlayfs over the layer dirs, writes to upper, whiteouts.

All mounts go through the `mounter` fixture, which unmounts them even when a test fails and
checks /proc/self/mountinfo afterwards.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kubeplay.errors import NotFoundError
from kubeplay.image import ImageStore, mounts
from tests.integration.image import layouts
from tests.integration.image.conftest import Mounter

pytestmark = pytest.mark.root


def test_mount_write_goes_to_upper(store: ImageStore, busybox_tar: Path, mounter: Mounter) -> None:
    record = store.import_rootfs(busybox_tar, "busybox")
    base = mounter(record.image_id)
    rootfs = base / "rootfs"
    assert mounts.is_mounted(rootfs)
    assert (rootfs / "var" / "www" / "index.html").read_text() == "hello from kubeplay\n"
    (rootfs / "tmp" / "written").write_text("from the container\n")
    assert (base / "upper" / "tmp" / "written").read_text() == "from the container\n"
    (layer,) = store.layer_dirs(record.image_id)
    assert not (layer / "tmp" / "written").exists()
    assert stat.S_IMODE(rootfs.stat().st_mode) == stat.S_IMODE(layer.stat().st_mode)
    store.unmount_rootfs(rootfs)
    assert not mounts.is_mounted(rootfs)
    store.unmount_rootfs(rootfs)  # idempotent
    store.unmount_rootfs(base / "never-made")


def test_two_containers_share_layers(
    store: ImageStore, busybox_tar: Path, mounter: Mounter
) -> None:
    record = store.import_rootfs(busybox_tar, "busybox")
    one, two = mounter(record.image_id, "one"), mounter(record.image_id, "two")
    (one / "rootfs" / "etc" / "only-one").write_text("1")
    assert not (two / "rootfs" / "etc" / "only-one").exists()


def test_unmount_busy_detaches(store: ImageStore, busybox_tar: Path, mounter: Mounter) -> None:
    record = store.import_rootfs(busybox_tar, "busybox")
    rootfs = mounter(record.image_id) / "rootfs"
    with (rootfs / "etc" / "passwd").open():
        store.unmount_rootfs(rootfs)
        assert not mounts.is_mounted(rootfs)


def test_lazy_unmount_detaches_at_once_and_a_new_mount_takes_its_place(
    store: ImageStore, busybox_tar: Path, mounter: Mounter
) -> None:
    """A restart: the dead instance's rootfs is detached, a fresh one mounted at the same
    place without the old writes."""
    record = store.import_rootfs(busybox_tar, "busybox")
    base = mounter(record.image_id)
    rootfs = base / "rootfs"
    (rootfs / "tmp" / "old").write_text("x")
    store.unmount_rootfs(rootfs, lazy=True)
    assert not mounts.is_mounted(rootfs)
    for sub in ("upper", "work"):
        shutil.rmtree(base / sub)
    store.mount_rootfs(record.image_id, target=rootfs, upper=base / "upper", work=base / "work")
    assert mounts.is_mounted(rootfs)
    assert not (rootfs / "tmp" / "old").exists()
    store.unmount_rootfs(rootfs)


def test_whiteouts_hide_lower_files(
    store: ImageStore, tmp_path: Path, busybox_tar: Path, mounter: Mounter
) -> None:
    top = layouts.make_tar(
        [
            layouts.file("var/www/.wh.index.html"),
            layouts.file("etc/.wh..wh..opq"),
            layouts.file("etc/hostname", b"kubeplay\n"),
            layouts.file("bin/.wh..wh.plnk"),
            layouts.file("new-file", b"new\n"),
        ]
    )
    layout = tmp_path / "layout"
    layouts.write_layout(layout, [busybox_tar.read_bytes(), top], tag="t")
    archive = tmp_path / "wh.tar"
    layouts.skopeo_copy(f"oci:{layout}:t", f"oci-archive:{archive}:localhost/wh:1")
    (record,) = store.load_archive(archive)
    top_dir, _ = store.layer_dirs(record.image_id)
    whiteout = os.lstat(top_dir / "var" / "www" / "index.html")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(top_dir / "etc", "trusted.overlay.opaque") == b"y"
    assert not (top_dir / "bin" / ".wh..wh.plnk").exists()
    rootfs = mounter(record.image_id) / "rootfs"
    assert not (rootfs / "var" / "www" / "index.html").exists()
    assert (rootfs / "var" / "www").is_dir()
    assert sorted(os.listdir(rootfs / "etc")) == ["hostname"]  # opaque: passwd/group hidden
    assert (rootfs / "new-file").read_text() == "new\n"
    assert (rootfs / "bin" / "busybox").is_file()


def test_many_layers_mount_through_short_links(
    store: ImageStore, tmp_path: Path, busybox_tar: Path, mounter: Mounter
) -> None:
    count = 45  # ~45 * 100-char absolute layer paths > one 4096-byte page of mount data
    extra = [layouts.make_tar([layouts.file(f"layer{n}", str(n).encode())]) for n in range(count)]
    layout = tmp_path / "layout"
    layouts.write_layout(layout, [busybox_tar.read_bytes(), *extra], tag="t")
    archive = tmp_path / "many.tar"
    layouts.skopeo_copy(f"oci:{layout}:t", f"oci-archive:{archive}:localhost/many:1")
    (record,) = store.load_archive(archive)
    absolute = mounts.overlay_data(
        [str(p) for p in store.layer_dirs(record.image_id)], upper="/u", work="/w"
    )
    assert not mounts.fits_page(absolute)
    rootfs = mounter(record.image_id) / "rootfs"
    assert sorted(p.name for p in rootfs.iterdir() if p.name.startswith("layer")) == sorted(
        f"layer{n}" for n in range(count)
    )
    assert len(list((store.root / "l").iterdir())) == count + 1
    store.unmount_rootfs(rootfs)
    store.remove("localhost/many:1")
    assert list((store.root / "l").iterdir()) == []


def test_mount_unknown_image(store: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        store.mount_rootfs(
            "sha256:" + "0" * 64, target=tmp_path / "t", upper=tmp_path / "u", work=tmp_path / "w"
        )
