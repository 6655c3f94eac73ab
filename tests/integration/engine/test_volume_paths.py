"""Safe paths inside volumes, with crafted symlinks, on the real kernel (openat2, bind mounts,
tmpfs), and the kubelet's atomic writer and fsGroup ownership on a real filesystem.

The threat: a container writes symlinks into a volume (an emptyDir, a PVC, a hostPath) and a
later subPath mount or file write follows them out of the volume (CVE-2017-1002101). Every
mount goes through the `binds` fixture, which unmounts it even when a test fails.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplay.engine import mounts, volumes
from kubeplay.plan.volumes import FileEntry, VolumeError

pytestmark = pytest.mark.root


@pytest.fixture
def binds(tmp_path: Path) -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    for point in mounts.mount_points_under(tmp_path):
        mounts.unmount(point)
    assert mounts.mount_points_under(tmp_path) == []


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """A volume with a planted escape: absolute, relative and nested symlinks out of it."""
    root = tmp_path / "volume"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    root.mkdir()
    (root / "dir").mkdir()
    (root / "dir" / "file").write_text("inside\n")
    os.symlink(str(outside), root / "absolute")
    os.symlink("../outside", root / "relative")
    os.symlink("dir/../../outside", root / "sneaky")
    os.symlink("dir", root / "inner")  # stays inside: allowed, as the kubelet allows it
    os.symlink("/proc/self/root", root / "magic")
    return root


@pytest.mark.parametrize(
    "sub_path",
    [
        pytest.param("absolute/secret", id="absolute-symlink-out"),
        pytest.param("relative/secret", id="relative-symlink-out"),
        pytest.param("sneaky/secret", id="dotdot-inside-a-symlink-target"),
        pytest.param("magic/etc/passwd", id="magic-link-to-host-root"),
        pytest.param("../outside/secret", id="dotdot-in-the-subpath"),
    ],
)
def test_open_beneath_refuses_every_escape(volume: Path, sub_path: str) -> None:
    with mounts.opened(volume) as root_fd, pytest.raises(OSError) as caught:
        os.close(mounts.open_beneath(root_fd, sub_path))
    assert caught.value.errno is not None


def test_open_beneath_follows_a_symlink_that_stays_inside(volume: Path) -> None:
    with (
        mounts.opened(volume) as root_fd,
        mounts.opened_beneath(root_fd, "inner/file", flags=os.O_RDONLY) as fd,
    ):
        assert os.read(fd, 100) == b"inside\n"


def test_make_dirs_beneath_never_creates_outside(volume: Path, tmp_path: Path) -> None:
    with mounts.opened(volume) as root_fd:
        with pytest.raises(mounts.PathEscapeError):
            mounts.make_dirs_beneath(root_fd, "relative/made/by/kubeplay")
        mounts.make_dirs_beneath(root_fd, "inner/new/deep")
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret"]
    assert (volume / "dir" / "new" / "deep").is_dir()


def test_bind_fd_mounts_what_was_opened(volume: Path, tmp_path: Path, binds: list[Path]) -> None:
    target = tmp_path / "subpaths" / "file"
    with mounts.opened(volume) as root_fd, mounts.opened_beneath(root_fd, "inner/file") as fd:
        mounts.bind_fd(fd, target)
    assert target.read_text() == "inside\n"
    assert mounts.mount_points_under(tmp_path / "subpaths") == [target]
    # the bind is to the file itself: swapping the path afterwards changes nothing
    os.rename(volume / "dir", volume / "moved")
    os.symlink(str(tmp_path / "outside"), volume / "dir")
    assert target.read_text() == "inside\n"


def test_tmpfs_is_sized_and_unmounted(tmp_path: Path, binds: list[Path]) -> None:
    target = tmp_path / "mem"
    target.mkdir()
    mounts.mount_tmpfs(target, size=1024 * 1024)
    info = os.statvfs(target)
    assert info.f_blocks * info.f_frsize == 1024 * 1024
    assert mounts.unmount(target) is True
    assert mounts.unmount(target) is False


def test_mount_points_with_escaped_names_are_found(tmp_path: Path, binds: list[Path]) -> None:
    """mountinfo writes a space as `\\040`: such a mount point is found (and the plain one
    beside it, read without unescaping)."""
    odd, plain = tmp_path / "a dir", tmp_path / "plain"
    for target in (odd, plain):
        target.mkdir()
        mounts.mount_tmpfs(target, size=1 << 20)
    assert sorted(mounts.mount_points_under(tmp_path)) == [odd, plain]
    assert sorted(mounts.mount_points_under(odd, plain)) == [odd, plain]
    assert mounts.mount_points_under(odd) == [odd]
    assert mounts.mount_points_under(tmp_path / "a") == []


def test_atomic_writer_swaps_data_and_keeps_no_stale_files(tmp_path: Path) -> None:
    target = tmp_path / "cm"
    target.mkdir()
    assert volumes.write_files(
        target, [FileEntry("a", b"1", 0o644), FileEntry("sub/b", b"2", 0o600)]
    )
    first = os.readlink(target / "..data")
    assert first.startswith("..") and (target / first).is_dir()
    assert os.readlink(target / "a") == "..data/a"
    assert os.readlink(target / "sub") == "..data/sub"
    assert (target / "sub" / "b").read_bytes() == b"2"
    assert stat.S_IMODE((target / "sub" / "b").stat().st_mode) == 0o600
    # same content: nothing is rewritten
    assert not volumes.write_files(
        target, [FileEntry("a", b"1", 0o644), FileEntry("sub/b", b"2", 0o600)]
    )
    assert os.readlink(target / "..data") == first
    # an update: a new timestamped dir, the old one and the dropped key are gone
    assert volumes.write_files(target, [FileEntry("a", b"new", 0o644)])
    second = os.readlink(target / "..data")
    assert second != first
    assert not (target / first).exists()
    assert not (target / "sub").is_symlink()
    assert (target / "a").read_bytes() == b"new"
    assert sorted(p.name for p in target.iterdir()) == sorted(["..data", second, "a"])


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("../escape", id="dotdot"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("..data", id="clash-with-data-link"),
    ],
)
def test_atomic_writer_refuses_paths_out_of_the_volume(tmp_path: Path, path: str) -> None:
    target = tmp_path / "cm"
    target.mkdir()
    with pytest.raises(VolumeError):
        volumes.write_files(target, [FileEntry(path, b"x", 0o644)])
    assert list(target.iterdir()) == []


def test_fs_group_ownership_and_on_root_mismatch(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_text("x")
    (root / "d" / "f").chmod(0o600)
    os.symlink("/etc/passwd", root / "link")
    volumes.apply_fs_group(root, 2000, read_only=False, policy="Always")
    for path in (root, root / "d"):
        info = path.stat()
        assert info.st_gid == 2000 and info.st_mode & stat.S_ISGID and info.st_mode & 0o070
    assert (root / "d" / "f").stat().st_gid == 2000
    assert stat.S_IMODE((root / "d" / "f").stat().st_mode) == 0o660
    assert Path("/etc/passwd").stat().st_gid != 2000  # a symlink is never followed
    assert (root / "link").lstat().st_gid == 2000
    # OnRootMismatch: the root already matches, a file added since is left alone
    (root / "late").write_text("y")
    os.chown(root / "late", -1, 0)  # (the setgid directory gave it group 2000)
    volumes.apply_fs_group(root, 2000, read_only=False, policy="OnRootMismatch")
    assert (root / "late").stat().st_gid != 2000
    volumes.apply_fs_group(root, 2000, read_only=False, policy="Always")
    assert (root / "late").stat().st_gid == 2000
